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

No event can stall it: one that cannot be a line of an NDJSON file (not UTF-8, empty, a
line break inside) goes to the dead letter (origin `raw-sink`, `unwritable_event`), and
one whose event id an earlier event already claimed with other content goes there as
`event_id_conflict` (the first content keeps the id); the rest of the flush is landed
and the offsets move on. Only the lake or the state store failing makes it retry.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path

from cartflow.lake.raw import land_bytes
from cartflow.lake.storage import Storage
from cartflow.runtime.sqlite import connect
from cartflow.runtime.state import StateStore
from cartflow.stream.deadletter import DeadLetterLog
from cartflow.stream.log import Event, EventLog, LogConsumer
from cartflow.stream.metrics import DEAD_LETTERS, RAW_FILES

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

    def __init__(self, log_: EventLog, storage: Storage, state: StateStore, sink_db: Path, *, source: str,
                 topic: str, flush_rows: int, flush_seconds: float, dedupe_seconds: float,
                 dead_letters: DeadLetterLog) -> None:
        self.log, self.storage, self.state, self.dead_letters = log_, storage, state, dead_letters
        self.source, self.topic = source, topic
        self.flush_rows, self.flush_seconds, self.dedupe_seconds = flush_rows, flush_seconds, dedupe_seconds
        sink_db.parent.mkdir(parents=True, exist_ok=True)
        self._db = connect(sink_db)
        self._db.executescript(SCHEMA)
        if "content_hash" not in {r[1] for r in self._db.execute("PRAGMA table_info(claimed_events)")}:
            self._db.execute("ALTER TABLE claimed_events ADD COLUMN content_hash TEXT")  # files before the check
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
                self._db.executemany(
                    "INSERT OR IGNORE INTO claimed_events (event_id, flush_id, claimed_at, content_hash) "
                    "VALUES (?,?,?,?)",
                    [(_event_id(e), flush_id, now, _hash(e)) for e in events if unwritable(e) is None])
                self._db.execute("COMMIT")
            self._land(p, first, last, events, flush_id)
            consumer.commit({p: last + 1})
            self._db.execute("DELETE FROM flushes WHERE flush_id=?", (flush_id,))
            self._buffers[p] = []
        if not any(self._buffers.values()):
            self._first_at = None

    def _land(self, partition: int, first: int, last: int, events: list[Event], flush_id: str) -> None:
        """Land the events this flush claimed; dead-letter the ones no file can hold, before anything moves on.

        The same events and claims always give the same file and the same dead letters, so
        a replayed flush repeats exactly what the interrupted one did.
        """
        claims = self._claims([_event_id(e) for e in events])
        lines, taken, bad = [], set(), []
        for e in events:
            eid = _event_id(e)
            why = unwritable(e)
            held_by, held_hash = claims.get(eid, (None, None))
            if why is not None:
                bad.append(_entry("unwritable_event", e, why))
            elif held_hash is not None and held_hash != _hash(e):
                bad.append(_entry("event_id_conflict", e, f"event id {eid!r} was first claimed with other content, "
                                  "which is kept: send a changed line under a new event id"))
            elif held_by == flush_id and eid not in taken:
                taken.add(eid)
                lines.append(e.value.rstrip(b"\n"))
        if bad:
            self.dead_letters.add(bad, origin=self.name)
            for reason, _, _ in bad:
                DEAD_LETTERS.labels(reason).inc()
        if not lines:
            return  # every event was a retry of one already landed, or dead-lettered
        name = f"{self.topic}.p{partition}.{first:012d}-{last:012d}.ndjson"
        manifest = land_bytes(self.storage, self.state, source=self.source, entity=ENTITY,
                              data=b"\n".join(lines) + b"\n", name=name, ext="ndjson", rows=len(lines),
                              watermark=f"p{partition}:{last}")
        if manifest:
            RAW_FILES.inc()

    def _claims(self, event_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        """event id → (the flush that claimed it, the content hash it was claimed with)."""
        out: dict[str, tuple[str, str | None]] = {}
        unique = sorted(set(event_ids))
        for i in range(0, len(unique), 500):  # SQLite's bound-parameter limit
            chunk = unique[i:i + 500]
            out.update((r[0], (r[1], r[2])) for r in self._db.execute(
                f"SELECT event_id, flush_id, content_hash FROM claimed_events WHERE event_id IN "
                f"({','.join('?' * len(chunk))})", chunk))
        return out

    def _prune(self) -> None:
        """Forget claims older than the log's retention: a retry can no longer be in the log."""
        self._last_prune = time.time()
        with self._lock:
            self._db.execute("DELETE FROM claimed_events WHERE claimed_at < ?", (time.time() - self.dedupe_seconds,))

    def close_db(self) -> None:
        self._db.close()


def _event_id(e: Event) -> str:
    return e.event_id or "sha256:" + hashlib.sha256(e.value).hexdigest()[:32]


def _hash(e: Event) -> str:
    return hashlib.sha256(e.value).hexdigest()[:32]


def unwritable(e: Event) -> str | None:
    """Why an event cannot be one line of a UTF-8 NDJSON file (None when it can)."""
    value = e.value.rstrip(b"\n")
    if not value.strip():
        return "the event is empty: an NDJSON line needs a JSON object"
    newline = value.find(b"\n")
    if newline >= 0:
        return f"the event holds a line break at byte {newline}: NDJSON keeps one event per line"
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the event is not UTF-8 (byte {exc.start}): raw NDJSON files are UTF-8"
    return None


def _entry(reason: str, e: Event, message: str) -> tuple[str, list[dict], str]:
    where = f"event at partition {e.partition} offset {e.offset}"
    return reason, [{"field": None, "message": f"{where}: {message}"}], e.value.decode("utf-8", "backslashreplace")
