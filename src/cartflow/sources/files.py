"""The `files` source: CSV, JSON and NDJSON drops in a directory, a glob, or the lake's landing inbox.

`path` is read in place: the files stay where they are, untouched. The landing inbox
`<lake>/landing/<source>/` is consumed: each file there is taken once, then moved to
`processed/` or, when it cannot be read at all, to `rejected/` with a
`<file>.reason.json` beside it. The inbox goes through the `Storage` interface only
(`list`, `size`, `modified`, `local_copy`, `move`), so an S3 inbox works the same way.

Both take only finished files (`file_checks.settle` / `ready_marker`) and hold the
same rules:

* **One bad file never blocks the others.** A file that cannot be read (empty, binary,
  compressed, wrong encoding, wrong header, a symlink) is rejected with a reason code;
  every other file is landed; the run ends `partial` and alerts. The rejection is
  recorded in the state store (a manifest with status `rejected`), so `cartflow dlq
  list files` shows it and the same bytes are not tried again every run.
* **A file name is landed with one content.** A name already landed that now has
  other content (a file completed, or rewritten, after a run took it) is rejected as
  `changed_after_landing`, never landed as a second batch: both versions would count.
  Corrections arrive under a new name (docs/operations.md).
* **Content is landed at most once**: its batch id is its hash. If a run dies between
  landing an inbox file and moving it, the next run takes it again and it is a no-op.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable, TypeVar

from cartflow.config import FilesSource, Project
from cartflow.lake.raw import (
    Rejection,
    batch_id_of_bytes,
    batch_id_of_file,
    land_file,
    landed_versions,
    record_rejection,
)
from cartflow.lake.storage import Storage
from cartflow.runtime.progress import Reporter
from cartflow.runtime.state import Manifest, StateStore
from cartflow.runtime.text import printable
from cartflow.sources.errors import SourceError
from cartflow.sources.file_checks import check_file, in_progress, is_marker, marker_ready, settle

T = TypeVar("T")
log = logging.getLogger(__name__)

__all__ = ["SourceError", "Found", "Listing", "discover", "extract_files", "inbox_prefix", "inbox_keys",
           "take_inbox", "check_file", "REASON_SUFFIX"]

REASON_SUFFIX = ".reason.json"


@dataclass(frozen=True)
class Found:
    """One entry a configured path offers: its name below the path, and where it is."""

    name: str
    path: Path
    link: str | None = None
    """The target, when the entry is a symbolic link."""


@dataclass
class Listing:
    files: list[Found] = field(default_factory=list)
    markers: set[str] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)
    """Sub-folders (without `recursive`) and special files, each with why: they are not taken."""
    writing: list[str] = field(default_factory=list)
    """Names a producer uses while writing (`.tmp`, `.part`...)."""


def discover(project: Project, name: str, source: FilesSource) -> Listing:
    """What a configured `path` (a directory, a glob or one file) offers now, by name."""
    pattern = project.resolve(source.path)
    listing = Listing()
    if any(ch in source.path for ch in "*?["):
        parts = Path(source.path).parts
        fixed = parts[: next(i for i, p in enumerate(parts) if any(c in p for c in "*?["))]
        root = project.resolve(str(Path(*fixed))) if fixed else project.root
        for match in sorted(glob.glob(str(pattern))):
            _classify(Path(match), Path(match).relative_to(root).as_posix(), source, listing, set())
    elif pattern.is_dir():
        _walk(pattern, "", source, listing, {pattern.resolve()})
    elif pattern.exists() or pattern.is_symlink():
        _classify(pattern, pattern.name, source, listing, set())
    else:
        raise SourceError(
            f"source {name!r}: {pattern} does not exist: create it and drop files in, "
            f"or fix [sources.{name}] path in cartflow.toml", retryable=False
        )
    listing.files.sort(key=lambda f: f.name)
    return listing


def _walk(directory: Path, prefix: str, source: FilesSource, listing: Listing, seen: set[Path]) -> None:
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        _classify(entry, prefix + entry.name, source, listing, seen)


def _classify(entry: Path, name: str, source: FilesSource, listing: Listing, seen: set[Path]) -> None:
    base = entry.name
    if base.startswith("."):
        return  # hidden: editors' and copy tools' temporary files
    if entry.is_symlink() and not source.follow_symlinks:
        listing.files.append(Found(name, entry, os.readlink(entry)))
        return
    if entry.is_dir():
        real = entry.resolve()
        if source.recursive and real not in seen:
            _walk(entry, name + "/", source, listing, seen | {real})
        else:
            listing.skipped.append(f"{name}/ (a sub-folder{'' if source.recursive else ': set recursive = true to take files below it'})")
        return
    if is_marker(name, source.ready_marker):
        listing.markers.add(name)
    elif in_progress(base):
        listing.writing.append(name)
    elif entry.is_file():
        listing.files.append(Found(name, entry))
    elif entry.is_symlink():  # followed, and it points nowhere
        listing.files.append(Found(name, entry, os.readlink(entry)))
    else:
        listing.skipped.append(f"{name} (not a regular file)")


def extract_files(project: Project, storage: Storage, state: StateStore, reporter: Reporter,
                  name: str, source: FilesSource, run_id: str) -> int:
    """Land every finished, readable, new file of a files source (its path, then its inbox)."""
    inbox = source.inbox and bool(inbox_keys(storage, name, source))
    new = 0
    if not (inbox and not _path_exists(project, source)):
        new += take_path(project, storage, state, reporter, name, source, run_id)
    if source.inbox:
        taken = take_inbox(storage, state, name, source, run_id, reporter)
        new += taken.landed
        for file, reason in taken.rejected.items():
            reporter.message(f"source {name}: rejected {printable(file)} (moved to landing/{name}/rejected/): {reason}")
    return new


def _path_exists(project: Project, source: FilesSource) -> bool:
    return any(ch in source.path for ch in "*?[") or project.resolve(source.path).exists()


def take_path(project: Project, storage: Storage, state: StateStore, reporter: Reporter,
              name: str, source: FilesSource, run_id: str) -> int:
    """Land the configured path's files; reject the unreadable ones (recorded, the files stay)."""
    listing = discover(project, name, source)
    _notes(reporter, name, listing)
    stage = reporter.stage(f"extract {name}", total=len(listing.files))
    landed, new = landed_versions(state, name), 0
    candidates = []
    for found in listing.files:
        if found.link is not None:
            _reject_link(state, reporter, name, source, found, run_id)
            stage.advance(detail=found.name)
        else:
            candidates.append(found)
    ready = _ready(candidates, listing.markers, source, reporter, name,
                   stat=lambda f: _stat(f.path), label=lambda f: f.name)
    for found in ready:
        try:
            batch_id = batch_id_of_file(found.path)
        except OSError as exc:  # vanished or unreadable now: nothing to record by content; next run looks again
            reporter.message(f"source {name}: cannot read {printable(found.name)} ({exc.strerror or exc}); "
                             "the next run tries again")
            continue
        known = state.get_manifest(name, source.entity, batch_id)
        if known is not None and known.status != "retry":
            stage.advance(detail=found.name)
            continue  # landed before, or these exact bytes were rejected before (see `cartflow dlq list files`)
        rejection = changed_after_landing(landed.get(found.name), name, found.name, batch_id, found.path.stat().st_size)
        rejection = rejection or check_file(found.path, source, name, found.name)
        if rejection is not None:
            record_rejection(state, source=name, entity=source.entity, batch_id=batch_id, name=found.name,
                             size=found.path.stat().st_size, rejection=rejection, run_id=run_id, where="path",
                             location=str(found.path))
            reporter.message(f"source {name}: rejected {printable(found.name)} ({rejection.code}; the file stays "
                             f"where it is, `cartflow dlq list files` shows it): {printable(rejection.message)}")
        elif land_file(storage, state, source=name, entity=source.entity, path=found.path, run_id=run_id,
                       name=found.name, batch_id=batch_id):
            new += 1
        stage.advance(detail=found.name)
    stage.done(f"{new} new file(s)")
    return new


def changed_after_landing(earlier: Manifest | None, source: str, file: str, batch_id: str,
                          size: int) -> Rejection | None:
    """A file name already landed with other content: refuse it (both versions would count)."""
    if earlier is None or earlier.batch_id == batch_id:
        return None
    return Rejection("changed_after_landing", (
        f"{source}: {printable(file)}: this file name was landed on {earlier.extracted_at[:19]} as batch "
        f"{earlier.batch_id[:12]} ({earlier.bytes:,} bytes) and now has other content ({size:,} bytes): it is not "
        "landed again, or both versions would count. Put rows that are new in a file with a new name; a "
        "correction of rows already landed goes in as a new file too (docs/operations.md, \"Files\")"))


def _reject_link(state: StateStore, reporter: Reporter, name: str, source: FilesSource, found: Found,
                 run_id: str) -> None:
    batch_id = batch_id_of_bytes(f"symlink\0{found.name}\0{found.link}".encode("utf-8", "surrogateescape"))
    known = state.get_manifest(name, source.entity, batch_id)
    if known is not None and known.status != "retry":
        return  # rejected before: listed in the dead-letter queue already
    target = printable(found.link or "")
    why = ("it is a symbolic link" if source.follow_symlinks is False else "it is a broken symbolic link")
    rejection = Rejection("symlink", f"{name}: {printable(found.name)}: {why} (to {target}): not read. Copy the "
                                     f"file itself in, or set [sources.{name}] follow_symlinks = true")
    record_rejection(state, source=name, entity=source.entity, batch_id=batch_id, name=found.name, size=0,
                     rejection=rejection, run_id=run_id, where="path", location=str(found.path), target=target)
    reporter.message(f"source {name}: rejected {printable(found.name)} (symlink): {rejection.message}")


def _stat(path: Path) -> tuple[int, float] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime


def _ready(items: list[T], markers: set[str], source: FilesSource, reporter: Reporter, name: str, *,
           stat: Callable[[T], tuple[int, float] | None], label: Callable[[T], str]) -> list[T]:
    """The items that are finished: their marker exists, or they settled."""
    if source.ready_marker:
        ready = [i for i in items if marker_ready(label(i), markers, source.ready_marker)]
        waiting = [i for i in items if i not in ready]
        why = f"no {source.ready_marker} marker yet"
    else:
        ready, waiting = settle(items, stat, source.settle_seconds)
        why = f"still changing within the last {source.settle_seconds:g}s ([sources.{name}] settle_seconds)"
    if waiting:
        shown = ", ".join(printable(label(i)) for i in waiting[:5]) + (" ..." if len(waiting) > 5 else "")
        reporter.message(f"source {name}: {len(waiting)} file(s) not finished, left for the next run ({why}): {shown}")
        log.info("source %s: %d unfinished file(s) left for the next run", name, len(waiting),
                 extra={"source": name, "files": [printable(label(i)) for i in waiting]})
    return ready


def _notes(reporter: Reporter, name: str, listing: Listing) -> None:
    for what, entries in (("skipped", listing.skipped), ("being written, left alone", listing.writing)):
        if entries:
            shown = ", ".join(printable(e) for e in entries[:5]) + (" ..." if len(entries) > 5 else "")
            reporter.message(f"source {name}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} {what}: {shown}")


# -- the landing inbox ----------------------------------------------------------------------
def inbox_prefix(name: str) -> str:
    return f"landing/{name}"


def inbox_keys(storage: Storage, name: str, source: FilesSource | None = None) -> list[str]:
    """Files waiting in the inbox: direct children only (processed/ and rejected/ are below).

    With `source`, completion markers and names still being written are left out.
    """
    base = inbox_prefix(name) + "/"
    keys = [k for k in storage.list(inbox_prefix(name))
            if k.startswith(base) and "/" not in k[len(base):] and not k[len(base):].startswith(".")]
    if source is None:
        return keys
    return [k for k in keys if not is_marker(k[len(base):], source.ready_marker) and not in_progress(k)]


@dataclass
class InboxOutcome:
    taken: int = 0
    landed: int = 0
    rejected: dict[str, str] = field(default_factory=dict)  # file -> reason


def take_inbox(storage: Storage, state: StateStore, name: str, source: FilesSource,
               run_id: str | None, reporter: Reporter | None = None) -> InboxOutcome:
    """Land every finished file in the inbox, then move it to processed/ or rejected/ (with its reason)."""
    from cartflow.runtime.progress import QuietReporter

    reporter = reporter or QuietReporter()
    outcome = InboxOutcome()
    base = inbox_prefix(name) + "/"
    markers = {k[len(base):] for k in storage.list(inbox_prefix(name))
               if k.startswith(base) and is_marker(k[len(base):], source.ready_marker)}
    keys = _ready(inbox_keys(storage, name, source), markers, source, reporter, name,
                  stat=lambda k: _stat_key(storage, k), label=lambda k: k[len(base):])
    landed = landed_versions(state, name)
    for key in keys:
        file = key[len(base):]
        with storage.local_copy(key) as path:
            batch_id = batch_id_of_file(path)
            known = state.get_manifest(name, source.entity, batch_id)
            manifest = rejection = None
            if known is None or known.status in ("rejected", "retry"):  # an inbox drop is always looked at anew
                rejection = (changed_after_landing(landed.get(file), name, file, batch_id, path.stat().st_size)
                             or check_file(path, source, name, file))
                if rejection is None:
                    manifest = land_file(storage, state, source=name, entity=source.entity, path=path,
                                         run_id=run_id, name=file, batch_id=batch_id)
            size = path.stat().st_size
        outcome.taken += 1
        if rejection is None:
            outcome.landed += 1 if manifest else 0
            storage.move(key, _free(storage, f"{inbox_prefix(name)}/processed/{_today()}/{file}"))
            if source.ready_marker and source.ready_marker.startswith("."):
                storage.delete(key + source.ready_marker)
            continue
        outcome.rejected[file] = printable(rejection.message)
        target = _free(storage, f"{inbox_prefix(name)}/rejected/{file}")
        storage.move(key, target)
        record_rejection(state, source=name, entity=source.entity, batch_id=batch_id, name=file, size=size,
                         rejection=rejection, run_id=run_id, where="inbox", location=target)
        storage.write_bytes(target + REASON_SUFFIX, json.dumps({
            "source": name, "file": printable(file), "code": rejection.code, "reason": printable(rejection.message),
            "rejected_at": _now(), "run_id": run_id, "rejected_key": target,
            "what_to_do": "fix the file, then `cartflow dlq replay files <id>` moves it back into the inbox "
                          "(or drop a corrected copy there)",
        }, indent=2).encode())
    return outcome


def _stat_key(storage: Storage, key: str) -> tuple[int, float] | None:
    try:
        return storage.size(key), storage.modified(key)
    except (FileNotFoundError, OSError):
        return None


def _free(storage: Storage, key: str) -> str:
    """`key`, or `key` with a timestamp before the extension when that name is taken."""
    if not storage.exists(key):
        return key
    stem, dot, ext = key.rpartition(".")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return f"{stem}.{stamp}.{ext}" if dot and "/" not in ext else f"{key}.{stamp}"


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
