"""The `files` source: CSV, JSON and NDJSON drops in a directory, a glob, or the lake's landing inbox.

`path` is read in place (the files stay; a file's content is landed at most once,
because its batch id is its hash). The landing inbox `<lake>/landing/<source>/` is
consumed: each file there is taken exactly once, then moved to `processed/` or, when
it cannot be read at all (empty, not JSON, a header without the entity's key column),
to `rejected/` with a `<file>.reason.json` beside it. It goes through the `Storage`
interface only (`list`, `local_copy`, `move`), so an S3 inbox works the same way.
If a run dies between landing a file and moving it, the next run takes it again and
the content hash makes that a no-op: nothing is doubled.
"""

from __future__ import annotations

import glob
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cartflow.config import FilesSource, Project
from cartflow.lake.bronze import BronzeError, map_header
from cartflow.lake.raw import land_file
from cartflow.lake.storage import Storage
from cartflow.runtime.state import SqliteState
from cartflow.sources.errors import SourceError

log = logging.getLogger(__name__)

__all__ = ["SourceError", "discover", "inbox_prefix", "inbox_keys", "take_inbox", "check_file"]


def discover(project: Project, name: str, source: FilesSource) -> list[Path]:
    """The files a `files` source currently offers, oldest name first (daily files sort by date)."""
    pattern = project.resolve(source.path)
    if pattern.is_dir():
        files = [p for p in pattern.iterdir() if p.is_file() and not p.name.startswith(".")]
    elif any(ch in str(pattern) for ch in "*?["):
        files = [Path(p) for p in glob.glob(str(pattern)) if Path(p).is_file()]
    elif pattern.is_file():
        files = [pattern]
    else:
        raise SourceError(
            f"source {name!r}: {pattern} does not exist: create it and drop files in, "
            f"or fix [sources.{name}] path in cartflow.toml", retryable=False
        )
    return sorted(files, key=lambda p: p.name)


# -- the landing inbox ----------------------------------------------------------------------
def inbox_prefix(name: str) -> str:
    return f"landing/{name}"


def inbox_keys(storage: Storage, name: str) -> list[str]:
    """Files waiting in the inbox: direct children only (processed/ and rejected/ are below)."""
    base = inbox_prefix(name) + "/"
    return [k for k in storage.list(inbox_prefix(name))
            if k.startswith(base) and "/" not in k[len(base):] and not k[len(base):].startswith(".")]


@dataclass
class InboxOutcome:
    taken: int = 0
    landed: int = 0
    rejected: dict[str, str] = field(default_factory=dict)  # file -> reason


@dataclass(frozen=True)
class Rejection:
    code: str
    """empty_file | wrong_extension | unreadable | missing_column"""
    message: str


def take_inbox(storage: Storage, state: SqliteState, name: str, source: FilesSource,
               run_id: str | None) -> InboxOutcome:
    """Land every file in the inbox, then move it to processed/ or rejected/ (with its reason)."""
    outcome = InboxOutcome()
    for key in inbox_keys(storage, name):
        file = key.rsplit("/", 1)[-1]
        with storage.local_copy(key) as path:
            rejection = check_file(path, source, name)
            manifest = None
            if rejection is None:
                manifest = land_file(storage, state, source=name, entity=source.entity, path=path, run_id=run_id)
        outcome.taken += 1
        if rejection is None:
            outcome.landed += 1 if manifest else 0
            storage.move(key, _free(storage, f"{inbox_prefix(name)}/processed/{_today()}/{file}"))
            continue
        outcome.rejected[file] = rejection.message
        target = _free(storage, f"{inbox_prefix(name)}/rejected/{file}")
        storage.move(key, target)
        storage.write_bytes(target + REASON_SUFFIX, json.dumps({
            "source": name, "file": file, "code": rejection.code, "reason": rejection.message,
            "rejected_at": _now(), "run_id": run_id, "rejected_key": target,
            "what_to_do": "fix the file, then `cartflow dlq replay files <id>` moves it back into the inbox "
                          "(or drop a corrected copy there)",
        }, indent=2).encode())
        log.warning("source %s: rejected %s: %s", name, file, rejection.message, extra={"source": name, "file": file})
    return outcome


REASON_SUFFIX = ".reason.json"


def check_file(path: Path, source: FilesSource, name: str) -> Rejection | None:
    """Why a dropped file cannot be standardized at all, or None when it can."""
    suffix = path.suffix.lower().lstrip(".")
    allowed = {"csv": {"csv", "txt", "tsv"}, "json": {"json"}, "ndjson": {"ndjson", "jsonl", "json"}}[source.format]
    if suffix not in allowed:
        return Rejection("wrong_extension", f"{name}: {path.name}: a .{suffix or '(no extension)'} file in a "
                                            f"{source.format} source (expected .{', .'.join(sorted(allowed))})")
    if path.stat().st_size == 0:
        return Rejection("empty_file", f"{name}: {path.name}: the file is empty")
    try:
        if source.format == "csv" and source.entity == "order_lines":
            _check_order_line_csv(path, source, name)
        else:
            from cartflow.lake.bronze_entities import Layout, probe

            layout = Layout(source.format, source.records_path, False, source.csv.encoding,
                            source.csv.delimiter, source.csv.quote)
            probe(path, layout, source.entity, name)
    except BronzeError as exc:
        text = str(exc)
        code = "missing_column" if "missing column" in text else "unreadable"
        return Rejection(code, text)
    return None


def _check_order_line_csv(path: Path, source: FilesSource, name: str) -> None:
    if path.stat().st_size == 0:
        raise BronzeError(f"{name}: {path.name}: the file is empty (no header row)")
    with path.open("rb") as f:
        first = f.readline()
    try:
        text = first.decode(source.csv.encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise BronzeError(f"{name}: {path.name}: the header is not {source.csv.encoding} text ({exc})") from None
    header = [h.strip().strip(source.csv.quote) for h in text.rstrip("\r\n").split(source.csv.delimiter)]
    map_header(header, name, path.name)


def _free(storage: Storage, key: str) -> str:
    """`key`, or `key` with a timestamp before the extension when that name is taken."""
    if not storage.exists(key):
        return key
    stem, dot, ext = key.rpartition(".")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    return f"{stem}.{stamp}.{ext}" if dot and "/" not in ext else f"{key}.{stamp}"


def _today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
