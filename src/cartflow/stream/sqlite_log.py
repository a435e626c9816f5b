"""The embedded event log: one SQLite file in WAL mode, fsynced before every ack.

Kafka's model in miniature: fixed partitions with contiguous offsets, consumer groups
with committed offsets, time-based retention. One consumer per group is active at a
time (a file lock per group); another process of the same group waits as a standby
and takes over when the first one stops, so `cartflow serve` with several workers
never runs two raw sinks at once.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Sequence

from cartflow.runtime.group_commit import GroupCommit
from cartflow.runtime.sqlite import connect
from cartflow.stream.log import AssignmentCallback, Event, LogUnavailable, OutgoingEvent, partition_for

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    event_id TEXT NOT NULL,
    appended_at REAL NOT NULL,
    PRIMARY KEY (partition, offset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_appended_at ON events (appended_at);
CREATE TABLE IF NOT EXISTS heads (partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS group_offsets (
    group_id TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    committed_at REAL NOT NULL,
    PRIMARY KEY (group_id, partition)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_RETENTION_EVERY = 60.0
_IDLE_WAIT = 0.02
_LOCK_RETRY = 1.0
_appended = threading.Condition()  # wakes this process's consumers right after an append


def _connect(path: Path) -> sqlite3.Connection:
    return connect(path)  # durable before the ack: connect() fsyncs the WAL at each commit


class SqliteLog:
    backend = "sqlite"

    def __init__(self, path: Path, partitions: int = 4, retention_hours: int = 168) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.retention_seconds = retention_hours * 3600
        self._lock = threading.Lock()
        try:
            self._db = _connect(path)
            self._db.executescript(SCHEMA)
            self.partitions = self._partition_count(partitions)
        except sqlite3.Error as exc:
            raise LogUnavailable(f"event log {path}: {exc}: check the [stream] path and disk space") from exc
        self._last_retention = 0.0
        self.enforce_retention()
        self._appends: GroupCommit[OutgoingEvent, None] = GroupCommit(self._append_all)

    def _partition_count(self, wanted: int) -> int:
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('partitions', ?)", (str(wanted),))
        actual = int(self._db.execute("SELECT value FROM meta WHERE key='partitions'").fetchone()[0])
        if actual != wanted:
            raise LogUnavailable(
                f"event log {self.path} was created with {actual} partitions, but [stream] partitions = "
                f"{wanted}: set it back to {actual} (partitions cannot change under existing offsets)")
        return actual

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    def append(self, events: Sequence[OutgoingEvent]) -> None:
        """Durable on return; concurrent appends (API requests in flight) share one transaction and fsync."""
        if not events:
            return
        self._appends.submit(events)
        with _appended:
            _appended.notify_all()
        if time.time() - self._last_retention > _RETENTION_EVERY:
            self.enforce_retention()

    def _append_all(self, groups: list[Sequence[OutgoingEvent]]) -> list[None]:
        now = time.time()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                heads = dict(self._db.execute("SELECT partition, next_offset FROM heads").fetchall())
                rows = []
                for e in (e for group in groups for e in group):
                    p = partition_for(e.key, self.partitions)
                    offset = heads.get(p, 0)
                    heads[p] = offset + 1
                    rows.append((p, offset, e.key, e.value, e.event_id, now))
                self._db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?)", rows)
                self._db.executemany("INSERT INTO heads VALUES (?, ?) ON CONFLICT (partition) "
                                     "DO UPDATE SET next_offset=excluded.next_offset", list(heads.items()))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise LogUnavailable(f"event log {self.path}: write failed: {exc}") from exc
        return [None] * len(groups)

    def enforce_retention(self) -> int:
        """Delete events older than `retention_hours`, whatever the consumers' positions (as Kafka does)."""
        self._last_retention = time.time()
        with self._lock:
            cur = self._db.execute("DELETE FROM events WHERE appended_at < ?",
                                   (time.time() - self.retention_seconds,))
            return cur.rowcount

    def consumer(self, group: str) -> SqliteConsumer:
        return SqliteConsumer(self, group)

    def read_range(self, partition: int, start: int, end: int) -> list[Event]:
        with self._lock:
            rows = self._db.execute(
                "SELECT partition, offset, key, value, event_id, appended_at FROM events "
                "WHERE partition=? AND offset BETWEEN ? AND ? ORDER BY offset", (partition, start, end)).fetchall()
        return [Event(*r) for r in rows]

    def heads(self) -> dict[int, int]:
        with self._lock:
            return dict(self._db.execute("SELECT partition, next_offset FROM heads").fetchall())

    def group_lag(self, group: str, partitions: list[int]) -> dict[int, int]:
        with self._lock:
            heads = dict(self._db.execute("SELECT partition, next_offset FROM heads").fetchall())
            committed = dict(self._db.execute("SELECT partition, offset FROM group_offsets WHERE group_id=?",
                                              (group,)).fetchall())
        return {p: max(0, heads.get(p, 0) - committed.get(p, 0)) for p in partitions}

    def ping(self) -> None:
        try:
            with self._lock:
                self._db.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise LogUnavailable(f"event log {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()


class SqliteConsumer:
    """One member of a consumer group; it owns every partition while it holds the group lock."""

    def __init__(self, log: SqliteLog, group: str) -> None:
        self.log, self.group = log, group
        self._db = _connect(log.path)
        self._lock_path = log.path.with_name(f"{log.path.name}.{_safe(group)}.lock")
        self._lock_fd: int | None = None
        self._next_try = 0.0
        self._positions: dict[int, int] = {}
        self._assigned_cb: AssignmentCallback = lambda ps: None
        self._revoked_cb: AssignmentCallback = lambda ps: None
        self.skipped = 0
        """Events deleted by retention before this group read them (data the group never saw)."""

    def on_assignment(self, assigned: AssignmentCallback, revoked: AssignmentCallback) -> None:
        self._assigned_cb, self._revoked_cb = assigned, revoked

    def _acquire(self) -> bool:
        if self._lock_fd is not None:
            return True
        if time.monotonic() < self._next_try:
            return False
        self._next_try = time.monotonic() + _LOCK_RETRY
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd
        committed = self.committed()
        self._positions = {p: committed.get(p, 0) for p in range(self.log.partitions)}
        self._assigned_cb(list(range(self.log.partitions)))
        return True

    def assignment(self) -> list[int]:
        return sorted(self._positions) if self._lock_fd is not None else []

    def poll(self, max_records: int, timeout: float) -> list[Event]:
        deadline = time.monotonic() + timeout
        while True:
            if self._acquire():
                events = self._read(max_records)
                if events:
                    return events
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            with _appended:
                _appended.wait(min(remaining, _IDLE_WAIT))

    def _read(self, max_records: int) -> list[Event]:
        out: list[Event] = []
        per_partition = max(1, max_records // max(1, len(self._positions)))
        for p, pos in self._positions.items():
            rows = self._db.execute(
                "SELECT partition, offset, key, value, event_id, appended_at FROM events "
                "WHERE partition=? AND offset>=? ORDER BY offset LIMIT ?", (p, pos, per_partition)).fetchall()
            if not rows:
                continue
            if rows[0][1] > pos:  # retention removed events this group had not read
                self.skipped += rows[0][1] - pos
            out.extend(Event(*r) for r in rows)
            self._positions[p] = rows[-1][1] + 1
        return out

    def seek(self, partition: int, offset: int) -> None:
        self._positions[partition] = offset

    def commit(self, offsets: dict[int, int]) -> None:
        if self._lock_fd is None:
            raise LogUnavailable(f"group {self.group}: cannot commit, this consumer does not own the partitions")
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT INTO group_offsets VALUES (?,?,?,?) ON CONFLICT (group_id, partition) "
                "DO UPDATE SET offset=excluded.offset, committed_at=excluded.committed_at",
                [(self.group, p, o, now) for p, o in offsets.items()])
            self._db.execute("COMMIT")
        except sqlite3.Error:
            self._db.execute("ROLLBACK")
            raise

    def committed(self) -> dict[int, int]:
        return dict(self._db.execute("SELECT partition, offset FROM group_offsets WHERE group_id=?",
                                     (self.group,)).fetchall())

    def lag(self) -> dict[int, int]:
        if self._lock_fd is None:
            return {}
        heads = dict(self._db.execute("SELECT partition, next_offset FROM heads").fetchall())
        committed = self.committed()
        return {p: max(0, heads.get(p, 0) - committed.get(p, 0)) for p in self._positions}

    def close(self) -> None:
        if self._lock_fd is not None:
            self._revoked_cb(list(self._positions))
            os.close(self._lock_fd)  # releases the flock: a standby member takes over
            self._lock_fd = None
        self._db.close()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
