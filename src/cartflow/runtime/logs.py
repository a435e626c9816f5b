"""Structured logs (the CloudWatch role): text or JSON lines, with the run id on every line.

The run id travels in a context variable set by the run, so every module logs through
plain `logging.getLogger(__name__)` and still gets it; lines outside a run carry
`run_id: null` (text: `run -`). Extra fields passed with `extra={...}` become JSON keys.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Iterator

ROOT_LOGGER = "cartflow"
WARNINGS_LOGGER = "cartflow.warnings"
"""Python warnings raised by libraries (`route_warnings`): the log file only, never the terminal."""
run_id_var: ContextVar[str | None] = ContextVar("cartflow_run_id", default=None)

# LogRecord attributes that are not user extras
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime", "run_id"}


@contextmanager
def run_context(run_id: str) -> Iterator[None]:
    """Every log line inside the block carries `run_id`."""
    token = run_id_var.set(run_id)
    try:
        yield
    finally:
        run_id_var.reset(token)


class RunIdFilter(logging.Filter):
    """Stamps the current run id on each record (set on handlers, so every logger gets it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "run_id"):
            record.run_id = run_id_var.get()
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, run_id, msg, then any extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "run_id": getattr(record, "run_id", None),
            "msg": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`2026-01-02T03:04:05Z INFO [run 2026…-ab12cd] cartflow.pipeline.run: message key=value`."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = (f"{ts} {record.levelname} [run {getattr(record, 'run_id', None) or '-'}] "
                f"{record.name}: {record.getMessage()}{' ' + extras if extras else ''}")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _Stderr:
    """Whatever `sys.stderr` is *now*: rich's progress display swaps it to print above its bars."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _CartflowHandler:
    """Marker mixin: handlers configure_logging installed (and may replace)."""


class _Stream(logging.StreamHandler, _CartflowHandler):
    pass


class _File(logging.handlers.RotatingFileHandler, _CartflowHandler):
    pass


def route_warnings() -> None:
    """Send every Python warning (a library's RuntimeDirWarning, a DeprecationWarning) to the log file
    instead of stderr: a user's terminal shows cartflow's own messages only, and the warning is still
    there for whoever debugs. Without a log file (logging not set up) warnings are dropped."""
    logger = logging.getLogger(WARNINGS_LOGGER)
    logger.propagate = False  # never the stderr handler, nor a root handler a library installed
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())

    def showwarning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    file: IO[str] | None = None, line: str | None = None) -> None:
        logger.warning("%s: %s (%s:%d)", category.__name__, message, filename, lineno,
                       extra={"category": category.__name__})

    warnings.showwarning = showwarning


def _attach_warnings(handler: logging.Handler | None) -> None:
    """The log file also takes the routed warnings (see route_warnings)."""
    logger = logging.getLogger(WARNINGS_LOGGER)
    for h in [h for h in logger.handlers if isinstance(h, _CartflowHandler)]:
        logger.removeHandler(h)
    if handler is not None:
        logger.addHandler(handler)


def configure_logging(fmt: str = "text", level: str = "INFO", *, file: Path | None = None,
                      stream: IO[str] | None = None, stream_level: str | None = None) -> logging.Logger:
    """Send `cartflow.*` logs to stderr (text or JSON lines) and, optionally, a JSON-lines file.

    Idempotent: calling it again replaces the handlers it installed before. The file is
    always JSON lines (rotated at 10 MB, 5 kept) so it can be shipped and queried.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"log format {fmt!r}: allowed values are text, json")
    logger = logging.getLogger(ROOT_LOGGER)
    for h in [h for h in logger.handlers if isinstance(h, _CartflowHandler)]:
        logger.removeHandler(h)
        h.close()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    console = _Stream(stream or _Stderr())
    console.setLevel((stream_level or level).upper())
    console.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    console.addFilter(RunIdFilter())
    logger.addHandler(console)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        fh = _File(file, maxBytes=10_000_000, backupCount=5, encoding="utf-8")
        fh.setLevel(level.upper())
        fh.setFormatter(JsonFormatter())
        fh.addFilter(RunIdFilter())
        logger.addHandler(fh)
    _attach_warnings(fh if file is not None else None)
    return logger


def setup_project_logging(project: Any, fmt: str | None = None, *, quiet_console: bool = False) -> logging.Logger:
    """configure_logging from `[logging]` in cartflow.toml; `fmt` (a CLI flag) wins over the file.

    `quiet_console` keeps stderr to warnings (the CLI draws progress bars there in text mode).
    """
    cfg = project.config.logging
    fmt = fmt or cfg.format
    file = project.resolve(cfg.file) if cfg.file else None
    stream_level = "WARNING" if quiet_console and fmt == "text" else None
    return configure_logging(fmt, cfg.level, file=file, stream_level=stream_level)


def reset_logging() -> None:
    """Remove the handlers configure_logging installed and let records propagate again (tests, embedding)."""
    logger = logging.getLogger(ROOT_LOGGER)
    for h in [h for h in logger.handlers if isinstance(h, _CartflowHandler)]:
        logger.removeHandler(h)
        h.close()
    _attach_warnings(None)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)
