"""What makes a dropped file takeable: complete (settled), and readable as its source's format.

Two questions, asked of every file a `files` source offers (its configured `path` and
the lake inbox alike):

* **Is it finished?** A producer may still be writing it. A file is taken once its size
  and modification time stayed unchanged for `settle_seconds` (a run waits at most that
  long for files that are younger, once), or, for producers that signal completion,
  once its `ready_marker` exists. Names ending `.tmp`, `.part`... are never taken: a
  producer renames them when done. An unfinished file is left for the next run.
* **Can it be read at all?** `check_file` sniffs the first bytes: empty, binary,
  compressed (a gzip renamed `.csv`), text that is not the configured encoding, a header
  without the entity's required columns. Such a file is rejected with a reason code; a
  file that passes can still have bad rows, which silver quarantines one by one.
"""

from __future__ import annotations

import codecs
import time
from pathlib import Path
from typing import Callable, TypeVar

from cartflow.config import FilesSource
from cartflow.lake.raw import Rejection
from cartflow.runtime.text import printable

__all__ = ["CLOCK", "IN_PROGRESS_SUFFIXES", "Clock", "Rejection", "check_file", "in_progress", "is_marker", "marker_ready",
           "rejection_code", "settle"]

#: names producers give a file while writing it, and rename when done
IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".crdownload", ".download", ".uploading")
SNIFF_BYTES = 64 * 1024
#: magic numbers of formats a files source never reads, however the file is named
_COMPRESSED = ((b"\x1f\x8b", "gzip"), (b"PK\x03\x04", "zip (or .xlsx)"), (b"BZh", "bzip2"),
               (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"7z\xbc\xaf\x27\x1c", "7-zip"))
_BINARY = ((b"PAR1", "Parquet"), (b"%PDF", "PDF"), (b"\xd0\xcf\x11\xe0", "an old Excel/Office file"),
           (b"SQLite format 3\x00", "SQLite"))
#: substrings of a BronzeError message -> the rejection code it means
_CODES = (("the file is empty", "empty_file"), ("missing column", "missing_column"),
          ("not valid JSON", "unreadable"), ("not valid", "encoding"),
          ("text (", "encoding"), ("not UTF-8", "encoding"), ("file in a", "wrong_extension"))

T = TypeVar("T")


def in_progress(name: str) -> bool:
    """A name a producer uses while the file is still being written."""
    return name.lower().endswith(IN_PROGRESS_SUFFIXES)


def is_marker(name: str, marker: str | None) -> bool:
    """A completion marker (`x.csv.done`, `_SUCCESS`): never data itself."""
    if not marker:
        return False
    base = name.rsplit("/", 1)[-1]
    return name.endswith(marker) if marker.startswith(".") else base == marker


def marker_ready(name: str, present: set[str], marker: str) -> bool:
    """`name`'s marker is among `present` (names relative to the same root)."""
    if marker.startswith("."):
        return name + marker in present
    folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    return folder + marker in present


class Clock:
    """What `settle` reads the time with and waits with (a test puts a writer in `sleep`)."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


CLOCK = Clock()


def settle(items: list[T], stat: Callable[[T], tuple[int, float] | None], seconds: float, *,
           clock: Clock = CLOCK) -> tuple[list[T], list[T]]:
    """Split `items` into (settled, still changing): size and mtime unchanged for `seconds`.

    A file last modified at least `seconds` ago is settled. For younger ones the run waits
    once, until the youngest is `seconds` old (never longer than `seconds`: a clock skew
    cannot make it wait more), then looks again: what did not change is settled.
    `stat` returns (size, mtime) or None when the file is gone.
    """
    if seconds <= 0:
        return list(items), []
    now = clock.now()
    first = [stat(i) for i in items]
    young = {n for n, seen in enumerate(first) if seen is not None and now - seen[1] < seconds}
    if young:
        youngest = max(first[n][1] for n in young)  # type: ignore[index]
        clock.sleep(max(0.0, min(seconds, seconds - (now - youngest))))
    ready: list[T] = []
    waiting: list[T] = []
    for n, item in enumerate(items):
        if first[n] is None:
            continue  # gone between the listing and now
        after = stat(item) if n in young else first[n]
        (ready if after == first[n] else waiting).append(item)
    return ready, waiting


def rejection_code(message: str) -> str:
    """The rejection code a BronzeError's message stands for."""
    return next((code for needle, code in _CODES if needle in message), "unreadable")


def check_file(path: Path, source: FilesSource, name: str, file: str | None = None) -> Rejection | None:
    """Why a dropped file cannot be standardized at all, or None when it can.

    `file` is the name shown in messages (default: the file's name).
    """
    shown = printable(file or path.name)
    suffix = path.suffix.lower().lstrip(".")
    allowed = {"csv": {"csv", "txt", "tsv"}, "json": {"json"}, "ndjson": {"ndjson", "jsonl", "json"}}[source.format]
    if suffix not in allowed:
        return Rejection("wrong_extension", f"{name}: {shown}: a .{printable(suffix) or '(no extension)'} file in a "
                                            f"{source.format} source (expected .{', .'.join(sorted(allowed))})")
    if path.stat().st_size == 0:
        return Rejection("empty_file", f"{name}: {shown}: the file is empty")
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    sniffed = _sniff(head, source.csv.encoding if source.format == "csv" else "utf-8")
    if sniffed:
        code, what = sniffed
        return Rejection(code, f"{name}: {shown}: {what}")
    from cartflow.lake.bronze import BronzeError, layout_for, probe  # pyarrow: only when a new file is read

    try:
        probe(path, layout_for(source, path.name), source.entity, name, file=shown)
    except BronzeError as exc:
        text = str(exc)
        return Rejection(rejection_code(text), text)
    return None


def _sniff(head: bytes, encoding: str) -> tuple[str, str] | None:
    """(code, what) when the first bytes show the file is not text in `encoding`."""
    for magic, what in _COMPRESSED:
        if head.startswith(magic):
            return "compressed", (f"a {what}-compressed file, not text: decompress it and drop the plain file "
                                  "(a files source reads CSV, JSON and NDJSON as they are)")
    for magic, what in _BINARY:
        if head.startswith(magic):
            return "binary", f"a {what} file, not text: export it as CSV/JSON and drop that"
    wide = encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32"))
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if not wide and (b"\x00" in head or controls > len(head) // 10):
        offset = head.find(b"\x00") if b"\x00" in head else next(i for i, b in enumerate(head) if b < 32 and
                                                                   b not in (9, 10, 12, 13))
        return "binary", (f"binary data, not text (byte {offset + 1} is {printable_byte(head[offset])}): "
                          "drop the CSV/JSON export instead")
    try:
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError as exc:
        line = head[:exc.start].count(b"\n") + 1
        return "encoding", (f"line {line}, byte {exc.start + 1}: not valid {encoding} text "
                            f"({printable_byte(head[exc.start])}); set [sources.<name>.csv] encoding to the "
                            "file's encoding (the Kaggle export is latin-1), or re-export it")
    except LookupError:
        return "encoding", f"unknown encoding {encoding!r}: fix [sources.<name>.csv] encoding"
    return None


def printable_byte(value: int) -> str:
    return f"\\x{value:02x}"
