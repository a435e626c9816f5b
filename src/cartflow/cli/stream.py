"""The live stream: `serve` (the API), `consume` (the sinks), `send` (replay a CSV into the API)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cartflow.cli._app import app
from cartflow.cli._common import LogFormatOpt, ProjectOpt, fail, load
from cartflow.console import NUMBER, TEXT, Col, Section, console, err_console, hint, show


@app.command()
def serve(
    project: ProjectOpt = Path("."),
    host: Annotated[str | None, typer.Option(help="Address to bind (default: \\[api] host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: \\[api] port, 8000).")] = None,
    consumers: Annotated[bool, typer.Option("--consumers/--no-consumers",
                                            help="Run the raw and serving sinks in this process too.")] = True,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    log_format: LogFormatOpt = None,
) -> None:
    """Run the API: POST /v1/order-lines, purchase history, /v1/health, /metrics, docs at /docs.

    Writes need the X-API-Key header. The key is in the env var that \\[api] api_key_env names
    (CARTFLOW_API_KEY by default); several comma-separated keys allow rotation. Reads and
    the dashboard need a key too when the env var that \\[api] read_key_env names
    (CARTFLOW_READ_KEY) holds one: set it on any server others can reach.
    """
    from rich.markup import escape

    from cartflow.api.server import serve as run_server
    from cartflow.runtime.logs import setup_project_logging
    from cartflow.runtime.pg_state import StateConfigError
    from cartflow.serving.store import StoreError
    from cartflow.stream.log import LogUnavailable

    proj = load(project)
    fmt = log_format or proj.config.logging.format
    if fmt not in ("text", "json"):
        fail(f"--log-format {fmt!r}: allowed values are text, json", 2)
    setup_project_logging(proj, fmt)  # cartflow's own lines: stderr at [logging] level, and the log file
    try:
        run_server(proj, host=host, port=port, consumers=consumers, workers=workers,
                   access_log=access_log, log_config=uvicorn_log_config(fmt, proj.config.logging.level))
    except (LogUnavailable, StoreError, StateConfigError) as exc:
        fail(escape(str(exc)))


def uvicorn_log_config(fmt: str, level: str) -> dict:
    """uvicorn's own lines (startup, errors, access) in cartflow's log format, not its `INFO:     …` one.

    A dictConfig, so every worker process applies it too; the root logger takes the same handler so a
    worker's cartflow lines read the same.
    """
    formatter = "JsonFormatter" if fmt == "json" else "TextFormatter"
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "cartflow",
               "filters": ["run_id"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"cartflow": {"()": f"cartflow.runtime.logs.{formatter}"}},
        "filters": {"run_id": {"()": "cartflow.runtime.logs.RunIdFilter"}},
        "handlers": {"stderr": handler},
        "loggers": {name: {"handlers": ["stderr"], "level": level, "propagate": False}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
        "root": {"handlers": ["stderr"], "level": level},
    }


@app.command()
def consume(
    project: ProjectOpt = Path("."),
    only: Annotated[str | None, typer.Option(help="Run one sink only: raw or serving.")] = None,
) -> None:
    """Run the stream consumers alone: raw NDJSON files in the lake, and the serving store.

    Offsets are committed only after each write is durable; Ctrl-C flushes and commits first.
    """
    from rich.markup import escape

    from cartflow.runtime.pg_state import StateConfigError
    from cartflow.serving.store import StoreError
    from cartflow.stream.log import LogUnavailable
    from cartflow.stream.service import SINKS, run_consumers

    if only is not None and only not in SINKS:
        fail(f"--only {only!r}: allowed values are {', '.join(SINKS)}")
    try:
        run_consumers(load(project), which=(only,) if only else SINKS, report=console.print)
    except (LogUnavailable, StoreError, StateConfigError) as exc:
        fail(escape(str(exc)))


@app.command()
def send(
    file: Annotated[Path, typer.Argument(help="Online Retail CSV (the Kaggle export: latin-1).", exists=True,
                                         dir_okay=False)],
    url: Annotated[str, typer.Option(help="The API's base URL (or the full /v1/order-lines URL).")]
    = "http://127.0.0.1:8000",
    batch: Annotated[int, typer.Option(min=1, help="Order lines per request (at most \\[api] max_batch).")] = 500,
    rate: Annotated[float | None, typer.Option(help="At most this many lines per second (default: no limit).")]
    = None,
    api_key: Annotated[str | None, typer.Option(envvar="CARTFLOW_API_KEY", show_envvar=True,
                                                   help="Sent as X-API-Key.")] = None,
    retries: Annotated[int, typer.Option(min=0, help="Retries per batch on 5xx, 429, timeouts, refused connections.")]
    = 8,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 30.0,
    encoding: Annotated[str, typer.Option(help="The CSV's text encoding.")] = "latin-1",
    limit: Annotated[int | None, typer.Option(help="Send only the first N rows.")] = None,
) -> None:
    """Replay a CSV into the API as the storefront did: rows as JSON, in batches, with retries.

    A retried batch never doubles a line: event ids derive from each line's content.
    """
    from rich.markup import escape
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from cartflow.stream.send import SendAborted, send_file

    with Progress(TextColumn("sending"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[rows]:,} lines"),
                  TimeRemainingColumn(), console=err_console) as progress:
        task = progress.add_task("send", total=file.stat().st_size, rows=0)
        try:
            summary = send_file(file, url, api_key, batch=batch, rate=rate, retries=retries, timeout=timeout,
                                encoding=encoding, limit=limit,
                                on_progress=lambda done, rows: progress.update(task, completed=done, rows=rows))
        except (SendAborted, ValueError) as exc:
            progress.stop()
            fail(escape(str(exc)))
    for line in summary.errors[:20]:
        err_console.print(f"[red]failed:[/] {escape(line)}")
    show(Section("sent", f"Sent {file.name} to {url}", [Col("what", TEXT), Col("value", NUMBER)], [
        ("lines read", f"{summary.rows:,}"), ("requests", f"{summary.batches:,} (batches of {batch})"),
        ("accepted", f"{summary.accepted:,}"), ("rejected (dead letter)", f"{summary.rejected:,}"),
        ("failed (not acknowledged)", f"{summary.failed_rows:,}"), ("retries", f"{summary.retries:,}"),
        ("seconds", f"{summary.seconds:.1f}"), ("accepted lines/s", f"{summary.rate:,.0f}")]))
    if summary.rejected:
        hint("rejected lines are in the dead letter, with their reasons:", "cartflow dlq list stream")
    if summary.failed_rows:
        raise typer.Exit(1)
