"""`cartflow watch`: start a run when files land in a source's inbox (the S3→Lambda→Glue role).

The watcher polls each `files` source's path and its landing inbox in the lake
(`<lake>/landing/<source>/`) through the `Storage` interface (`list`, `size`), so a
local directory and an S3 prefix are watched the same way. It is debounced: a run
starts once no file has arrived or changed size for `debounce_seconds` (a copy in
progress keeps growing, so it is not taken half-written), or at the latest
`max_wait_seconds` after the first new file, so a steady trickle still gets processed.

Each file is taken exactly once: the watcher hands a run only the files that settled
before it started; a file that lands while that run is going is still new afterwards
and starts the next run. And the run itself lands a file's content at most once (batch
id = content hash), so a restarted watcher, which treats the files already there as
new, cannot double anything.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cartflow.config import FilesSource, Project
from cartflow.lake.storage import LocalStorage, Storage, open_storage
from cartflow.runtime.lock import LockHeld

log = logging.getLogger(__name__)

Runner = Callable[[str], Any]
Clock = Callable[[], float]


@dataclass
class Inbox:
    """One source's landing place, as storage + the keys that belong to it."""

    source: str
    storage: Storage
    prefix: str = ""
    pattern: str | None = None
    """fnmatch pattern on keys (a glob source); None: direct children of `prefix` (a directory)."""

    def keys(self) -> list[str]:
        keys = self.storage.list(self.prefix)
        if self.pattern is not None:
            return [k for k in keys if fnmatch.fnmatch(k, self.pattern)]
        base = self.prefix.rstrip("/") + "/" if self.prefix else ""
        return [k for k in keys if k.startswith(base) and "/" not in k[len(base):]
                and not k.rsplit("/", 1)[-1].startswith(".")]


def inbox_for(project: Project, name: str, source: FilesSource) -> Inbox:
    """A directory, a glob, or an `s3://bucket/prefix/` inbox for a files source."""
    path = source.path
    if path.startswith("s3://"):
        bucket, _, rest = path[len("s3://"):].partition("/")
        lake = project.config.lake
        storage = open_storage(f"s3://{bucket}", endpoint=lake.endpoint, region=lake.region,
                               access_key_env=lake.access_key_env, secret_key_env=lake.secret_key_env)
        if any(ch in rest for ch in "*?["):
            return Inbox(name, storage, rest.split("*")[0].rsplit("/", 1)[0], rest)
        return Inbox(name, storage, rest.rstrip("/"))
    resolved = project.resolve(path)
    if any(ch in path for ch in "*?["):
        parts = Path(path).parts
        fixed = [p for p in parts[: next(i for i, p in enumerate(parts) if any(c in p for c in "*?["))]]
        root = project.resolve(str(Path(*fixed))) if fixed else project.root
        return Inbox(name, LocalStorage(root), "", str(resolved.relative_to(root.resolve())))
    if resolved.is_file():
        return Inbox(name, LocalStorage(resolved.parent), "", resolved.name)
    return Inbox(name, LocalStorage(resolved))


def inboxes(project: Project) -> list[Inbox]:
    """Each enabled `files` source's `path`, and its landing inbox in the lake (`<lake>/landing/<source>/`)."""
    from cartflow.lake.storage import open_lake

    found: list[Inbox] = []
    lake: Storage | None = None
    for name, source in project.config.sources.items():
        if not isinstance(source, FilesSource) or not source.enabled:
            continue
        found.append(inbox_for(project, name, source))
        if getattr(source, "inbox", False):
            lake = lake or open_lake(project)
            found.append(Inbox(name, lake, f"landing/{name}"))  # processed/ and rejected/ are below: not watched
    return found


@dataclass
class _Pending:
    size: int
    first_seen: float
    changed: float


@dataclass
class WatchRun:
    trigger_files: list[str]
    status: str
    run_id: str | None = None


@dataclass
class Watcher:
    """Polls inboxes, debounces arrivals and hands settled files to the runner."""

    inboxes: list[Inbox]
    runner: Runner
    debounce_seconds: float = 5.0
    max_wait_seconds: float = 60.0
    clock: Clock = time.monotonic
    taken: set[str] = field(default_factory=set)
    pending: dict[str, _Pending] = field(default_factory=dict)
    runs: list[WatchRun] = field(default_factory=list)

    def poll(self) -> None:
        """Notice new files and size changes; forget files that disappeared."""
        now = self.clock()
        present: set[str] = set()
        for inbox in self.inboxes:
            for key in inbox.keys():
                ident = f"{inbox.source}:{key}"
                present.add(ident)
                if ident in self.taken:
                    continue
                try:
                    size = inbox.storage.size(key)
                except (FileNotFoundError, OSError):
                    continue  # moved away between list and size
                seen = self.pending.get(ident)
                if seen is None:
                    self.pending[ident] = _Pending(size, now, now)
                    log.info("file arrived: %s (%d bytes)", ident, size, extra={"file": ident})
                elif seen.size != size:
                    seen.size, seen.changed = size, now
        for ident in set(self.pending) - present:
            del self.pending[ident]
        self.taken &= present  # a file removed and dropped again later is new again

    def ready(self) -> bool:
        if not self.pending:
            return False
        now = self.clock()
        quiet = now - max(p.changed for p in self.pending.values())
        waited = now - min(p.first_seen for p in self.pending.values())
        return quiet >= self.debounce_seconds or waited >= self.max_wait_seconds

    def step(self) -> WatchRun | None:
        """One poll; start a run when the pending files have settled. Returns the run, if any."""
        self.poll()
        if not self.ready():
            return None
        batch = {k: p.size for k, p in self.pending.items()}
        log.info("starting a run for %d new file(s)", len(batch), extra={"files": sorted(batch)})
        try:
            result = self.runner("watch")
        except LockHeld as exc:
            log.warning("a run is already going, will retry: %s", exc)
            return None
        except Exception:  # noqa: BLE001 - a watcher is a daemon: log, wait a debounce period, retry
            log.exception("the run for %d new file(s) could not start; retrying after the debounce period",
                          len(batch))
            now = self.clock()
            for p in self.pending.values():
                p.changed, p.first_seen = now, now
            return None
        self.poll()  # what changed during the run stays pending for the next one
        for ident, size in batch.items():
            now_pending = self.pending.get(ident)
            if now_pending is not None and now_pending.size == size:
                del self.pending[ident]
                self.taken.add(ident)
        run = WatchRun(sorted(batch), getattr(result, "status", "done"), getattr(result, "run_id", None))
        self.runs.append(run)
        return run


def watcher_for(project: Project, runner: Runner | None = None, *, debounce_seconds: float | None = None,
                clock: Clock = time.monotonic) -> Watcher:
    from cartflow.pipeline.run import run_pipeline

    cfg = project.config.watch
    return Watcher(inboxes(project), runner or (lambda trigger: run_pipeline(project, trigger=trigger)),
                   debounce_seconds=cfg.debounce_seconds if debounce_seconds is None else debounce_seconds,
                   max_wait_seconds=cfg.max_wait_seconds, clock=clock)


def watch(project: Project, stop: threading.Event, *, runner: Runner | None = None,
          poll_seconds: float | None = None, debounce_seconds: float | None = None,
          max_runs: int | None = None, on_run: Callable[[WatchRun], None] | None = None) -> list[WatchRun]:
    """Poll until `stop` is set (or `max_runs` runs happened); returns the runs started."""
    watcher = watcher_for(project, runner, debounce_seconds=debounce_seconds)
    if not watcher.inboxes:
        raise ValueError("no enabled `files` source to watch: add one under [sources] in cartflow.toml")
    interval = poll_seconds or project.config.watch.poll_seconds
    log.info("watching %s", ", ".join(f"{i.source} ({i.storage.root}/{i.prefix or i.pattern or ''})"
                                      for i in watcher.inboxes))
    while not stop.is_set():
        run = watcher.step()
        if run is not None:
            if on_run:
                on_run(run)
            if max_runs is not None and len(watcher.runs) >= max_runs:
                break
            continue  # poll again at once: files may have landed during the run
        stop.wait(interval)
    return watcher.runs
