"""Raw sink: log → raw NDJSON files in the lake, batched by size and time like Firehose.

Each flush writes one file per partition holding the events of one offset range, the
bytes exactly as the API accepted them, one event per line, through `land_bytes`
(source `storefront`, entity `order_lines`, name `<topic>.p<partition>.<first>-<last>.ndjson`).
The next `cartflow run` standardizes those batches like any other.

Exactly once, even across crashes and client retries:

1. before writing, the flush records its intent (partition, first and last offset) and
   claims its events' ids in `raw-sink.db`; an id claimed by an earlier flush (a
   retried POST) is left out;
2. it lands the file (content-addressed: landing the same bytes twice is one batch);
3. it commits the offsets, then clears the intent.

After a crash, a pending intent is replayed on partition assignment: the same offset
range and the same claims give the same bytes, so the file is landed once.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from pathlib import Path

from cartflow.lake.raw import land_bytes
from cartflow.lake.storage import Storage
from cartflow.runtime.state import SqliteState
from cartflow.stream.log import Event, EventLog, LogConsumer
from cartflow.stream.metrics import RAW_FILES

log = logging.getLogger("cartflow.stream")
ENTITY = "order_lines"
_PRUNE_EVERY = 3600.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS flushes (
    flush_id TEXT PRIMARY KEY,
    partition INTEGER NOT NULL,
    first_offset INTEGER NOT NULL,
    last_offset INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS claimed_events (
    event_id TEXT PRIMARY KEY,
    flush_id TEXT NOT NULL,
    claimed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS claimed_events_flush ON claimed_events (flush_id);
CREATE INDEX IF NOT EXISTS claimed_events_time ON claimed_events (claimed_at);
"""


class RawSink:
    name = "raw-sink"
    max_records = 5_000
    poll_timeout = 0.25

    def __init__(self, log_: EventLog, storage: Storage, state: SqliteState, sink_db: Path, *, source: str,
                 topic: str, flush_rows: int, flush_seconds: float, dedupe_seconds: float) -> None:
        self.log, self.storage, self.state = log_, storage, state
        self.source, self.topic = source, topic
        self.flush_rows, self.flush_seconds, self.dedupe_seconds = flush_rows, flush_seconds, dedupe_seconds
        sink_db.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(sink_db, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._buffers: dict[int, list[Event]] = {}
        self._first_at: float | None = None
        self._skip_below: dict[int, int] = {}
        self._last_prune = 0.0

    # -- consumer callbacks ---------------------------------------------------------
    def assigned(self, consumer: LogConsumer, partitions: list[int]) -> None:
        """Finish any flush a crash interrupted before reading new events of these partitions."""
        for p in partitions:
            for flush_id, first, last in self._db.execute(
                    "SELECT flush_id, first_offset, last_offset FROM flushes WHERE partition=? "
                    "ORDER BY first_offset", (p,)).fetchall():
                events = self.log.read_range(p, first, last)
                log.info("raw sink: replaying interrupted flush %s (%d event(s))", flush_id, len(events))
                self._land(p, first, last, events, flush_id)
                consumer.commit({p: last + 1})
                self._db.execute("DELETE FROM flushes WHERE flush_id=?", (flush_id,))
                self._skip_below[p] = max(self._skip_below.get(p, 0), last + 1)

    def revoked(self, consumer: LogConsumer, partitions: list[int]) -> None:
        self._flush(consumer, partitions)
        for p in partitions:
            self._skip_below.pop(p, None)

    # -- the loop ---------------------------------------------------------------------
    def handle(self, consumer: LogConsumer, events: list[Event]) -> None:
        for e in events:
            if e.offset < self._skip_below.get(e.partition, 0):
                continue  # already landed by a replayed flush
            self._buffers.setdefault(e.partition, []).append(e)
            if self._first_at is None:
                self._first_at = time.monotonic()
        if self.buffered() >= self.flush_rows:
            self._flush(consumer)

    def tick(self, consumer: LogConsumer) -> None:
        if self._first_at is not None and time.monotonic() - self._first_at >= self.flush_seconds:
            self._flush(consumer)
        if time.time() - self._last_prune > _PRUNE_EVERY:
            self._prune()

    def reset(self) -> None:
        self._buffers.clear()
        self._first_at = None
        self._skip_below.clear()

    def close(self, consumer: LogConsumer) -> None:
        self._flush(consumer)

    def buffered(self) -> int:
        return sum(len(b) for b in self._buffers.values())

    # -- flushing ---------------------------------------------------------------------
    def _flush(self, consumer: LogConsumer, partitions: list[int] | None = None) -> None:
        for p in sorted(self._buffers):
            events = self._buffers[p]
            if not events or (partitions is not None and p not in partitions):
                continue
            first, last = events[0].offset, events[-1].offset
            flush_id = f"{p}:{first}"
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("INSERT OR REPLACE INTO flushes VALUES (?,?,?,?,?)",
                                 (flush_id, p, first, last, time.time()))
                now = time.time()
                self._db.executemany("INSERT OR IGNORE INTO claimed_events VALUES (?,?,?)",
                                     [(_event_id(e), flush_id, now) for e in events])
                self._db.execute("COMMIT")
            self._land(p, first, last, events, flush_id)
            consumer.commit({p: last + 1})
            self._db.execute("DELETE FROM flushes WHERE flush_id=?", (flush_id,))
            self._buffers[p] = []
        if not any(self._buffers.values()):
            self._first_at = None

    def _land(self, partition: int, first: int, last: int, events: list[Event], flush_id: str) -> None:
        claimed = {r[0] for r in self._db.execute("SELECT event_id FROM claimed_events WHERE flush_id=?",
                                                  (flush_id,))}
        lines, taken = [], set()
        for e in events:
            eid = _event_id(e)
            if eid in claimed and eid not in taken:
                taken.add(eid)
                lines.append(e.value.rstrip(b"\n"))
        if not lines:
            return  # every event was a retry of one already landed
        name = f"{self.topic}.p{partition}.{first:012d}-{last:012d}.ndjson"
        manifest = land_bytes(self.storage, self.state, source=self.source, entity=ENTITY,
                              data=b"\n".join(lines) + b"\n", name=name, ext="ndjson", rows=len(lines),
                              watermark=f"p{partition}:{last}")
        if manifest:
            RAW_FILES.inc()

    def _prune(self) -> None:
        """Forget claims older than the log's retention: a retry can no longer be in the log."""
        self._last_prune = time.time()
        with self._lock:
            self._db.execute("DELETE FROM claimed_events WHERE claimed_at < ?", (time.time() - self.dedupe_seconds,))

    def close_db(self) -> None:
        self._db.close()


def _event_id(e: Event) -> str:
    return e.event_id or "sha256:" + hashlib.sha256(e.value).hexdigest()[:32]
