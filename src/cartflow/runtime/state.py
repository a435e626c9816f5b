"""The state store: batch manifests, runs and their tasks, watermarks, crashed runs.

One implementation (`StateStore`) over a small `Dialect`: SQLite is the embedded default
(`SqliteState`), PostgreSQL (`cartflow.runtime.pg_state.PostgresState`) lets several
machines share a lake. The SQL is written once, in the subset both engines share
(`ON CONFLICT ... DO UPDATE SET x = excluded.x` upserts, `?` placeholders that the
PostgreSQL dialect turns into `%s`); a dialect only says what really differs: column
types in the DDL, how to connect, and how one statement runs (every write is one
statement in autocommit, so two processes racing on a batch id record it exactly once).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cartflow.runtime.sqlite import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (
    source TEXT NOT NULL,
    entity TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    raw_key TEXT NOT NULL,
    source_file TEXT NOT NULL,
    bytes {bigint} NOT NULL,
    rows {bigint},
    extracted_at TEXT NOT NULL,
    watermark TEXT,
    status TEXT NOT NULL,
    bronze_key TEXT,
    run_id TEXT,
    rejection TEXT,
    raw_deleted_at TEXT,
    PRIMARY KEY (source, entity, batch_id)
);
CREATE INDEX IF NOT EXISTS manifests_status ON manifests (status, entity);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    trigger TEXT NOT NULL,
    error TEXT,
    stats TEXT
);
CREATE TABLE IF NOT EXISTS run_tasks (
    run_id TEXT NOT NULL,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    seconds {double},
    rows {bigint},
    attempts INTEGER NOT NULL DEFAULT 1,
    error TEXT,
    PRIMARY KEY (run_id, task)
);
CREATE TABLE IF NOT EXISTS watermarks (
    source TEXT NOT NULL,
    entity TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source, entity)
);
CREATE TABLE IF NOT EXISTS crashed_runs (
    lock_id TEXT PRIMARY KEY,
    run_id TEXT,
    pid {bigint} NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL,
    recovered_by TEXT NOT NULL,
    recovered_at TEXT NOT NULL,
    message TEXT NOT NULL,
    alert_claim TEXT,
    alerted_at TEXT
);
"""
"""`{bigint}`/`{double}` are filled in by the dialect. `crashed_runs`: one row per process that
died holding the run lock, so its `run_crashed` alert is sent exactly once (`alerted_at`),
even when the run that found it dies before sending it."""



def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Manifest:
    source: str
    entity: str
    batch_id: str
    raw_key: str
    source_file: str
    bytes: int
    rows: int | None
    extracted_at: str
    watermark: str | None
    status: str
    bronze_key: str | None = None
    run_id: str | None = None
    rejection: str | None = None
    """status `rejected`: why, as JSON (code, reason, file, where, rejected_at, run_id)."""
    raw_deleted_at: str | None = None
    """When `[lake] raw_retention` deleted the raw object (the row stays: lineage and dedupe)."""


MANIFEST_COLUMNS = ("source", "entity", "batch_id", "raw_key", "source_file", "bytes", "rows", "extracted_at",
                    "watermark", "status", "bronze_key", "run_id", "rejection", "raw_deleted_at")
#: columns added after the first release: created on open when an older state store lacks them
ADDED_MANIFEST_COLUMNS = ("rejection", "raw_deleted_at")


@dataclass
class CrashedRun:
    """A process that died holding the run lock, as its lock file named it, and who found it."""

    lock_id: str
    run_id: str | None
    pid: int
    host: str
    started_at: str
    recovered_by: str
    recovered_at: str
    message: str
    alert_claim: str | None = None
    """`host/pid` of the process sending its alert (None: nobody yet)."""
    alerted_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Dialect(Protocol):
    """What differs between the engines behind `StateStore`."""

    name: str
    where: str
    """Where the state lives, for messages (never with a password)."""
    types: dict[str, str]
    """DDL types for `{bigint}` and `{double}` in `SCHEMA`."""

    def create_tables(self, statements: list[str], added: dict[str, tuple[str, ...]]) -> None:
        """Run the `CREATE ... IF NOT EXISTS` statements, then add the `added` TEXT columns
        (table -> columns) a store created by an older release lacks (safe when processes race)."""

    def execute(self, sql: str, params: tuple[Any, ...]) -> tuple[list[dict[str, Any]], int]:
        """Run one statement (`?` placeholders) in autocommit: its rows as dicts, and its row count."""

    def close(self) -> None: ...


class StateStore:
    """The state store: the one implementation, over a `Dialect`. Thread-safe (one statement at a time)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._lock = threading.Lock()
        ddl = SCHEMA.format(**dialect.types)
        dialect.create_tables([s.strip() for s in ddl.split(";") if s.strip()], {"manifests": ADDED_MANIFEST_COLUMNS})

    @property
    def where(self) -> str:
        return self.dialect.where

    def close(self) -> None:
        self.dialect.close()

    def _q(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return self.dialect.execute(sql, params)[0]

    def _rowcount(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        with self._lock:
            return self.dialect.execute(sql, params)[1]

    # -- manifests ---------------------------------------------------------------
    def get_manifest(self, source: str, entity: str, batch_id: str) -> Manifest | None:
        rows = self._q("SELECT * FROM manifests WHERE source=? AND entity=? AND batch_id=?",
                       (source, entity, batch_id))
        return Manifest(**rows[0]) if rows else None

    def add_manifest(self, m: Manifest) -> bool:
        """Insert; False when the batch was already known (same content = same batch)."""
        return self._rowcount(
            f"INSERT INTO manifests ({', '.join(MANIFEST_COLUMNS)}) VALUES "
            f"({','.join('?' * len(MANIFEST_COLUMNS))}) ON CONFLICT DO NOTHING",
            tuple(getattr(m, c) for c in MANIFEST_COLUMNS),
        ) == 1

    def update_manifest(self, source: str, entity: str, batch_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(MANIFEST_COLUMNS)
        if unknown:
            raise ValueError(f"update_manifest: unknown column(s) {sorted(unknown)}")
        sets = ", ".join(f'"{k}"=?' for k in fields)
        self._q(f"UPDATE manifests SET {sets} WHERE source=? AND entity=? AND batch_id=?",
                (*fields.values(), source, entity, batch_id))

    def manifests(self, status: str | None = None, entity: str | None = None,
                  source: str | None = None) -> list[Manifest]:
        """Batches (optionally of one status, entity, source); rejection records only by status."""
        sql, params = "SELECT * FROM manifests WHERE 1=1", []
        if source:
            sql += " AND source=?"
            params.append(source)
        if status:
            sql += " AND status=?"
            params.append(status)
        else:  # batches only: a rejection record holds no landed content (ask for status="rejected")
            sql += " AND status NOT IN ('rejected', 'retry')"
        if entity:
            sql += " AND entity=?"
            params.append(entity)
        sql += " ORDER BY extracted_at, source_file"
        return [Manifest(**r) for r in self._q(sql, tuple(params))]

    # -- runs --------------------------------------------------------------------
    def start_run(self, run_id: str, trigger: str) -> None:
        self._q("INSERT INTO runs (run_id, started_at, status, trigger) VALUES (?,?,?,?)",
                (run_id, utcnow(), "running", trigger))

    def finish_run(self, run_id: str, status: str, error: str | None, stats: dict[str, Any]) -> None:
        self._q("UPDATE runs SET finished_at=?, status=?, error=?, stats=? WHERE run_id=?",
                (utcnow(), status, error, json.dumps(stats, default=str), run_id))

    def record_task(self, run_id: str, task: str, status: str, *, started_at: str | None = None,
                    seconds: float | None = None, rows: int | None = None, attempts: int = 1,
                    error: str | None = None) -> None:
        """Insert or update a task of a run; `running` leaves `finished_at` empty."""
        self._q(
            "INSERT INTO run_tasks VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (run_id, task) DO UPDATE SET "
            "status=excluded.status, finished_at=excluded.finished_at, seconds=excluded.seconds, "
            "rows=excluded.rows, attempts=excluded.attempts, error=excluded.error",
            (run_id, task, status, started_at, None if status == "running" else utcnow(), seconds, rows,
             attempts, error),
        )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._q("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))

    def run(self, run_id: str) -> dict[str, Any] | None:
        """The run with this id, or the first whose id starts with it; with its tasks."""
        rows = self._q("SELECT * FROM runs WHERE run_id=? OR run_id LIKE ? ESCAPE '\\' "
                       "ORDER BY run_id = ? DESC, run_id", (run_id, like_prefix(run_id), run_id))
        if not rows:
            return None
        run = rows[0]
        run["tasks"] = self._q("SELECT * FROM run_tasks WHERE run_id=? ORDER BY started_at", (run["run_id"],))
        return run

    # -- crashed runs --------------------------------------------------------------
    def record_crash(self, crash: CrashedRun) -> bool:
        """Note a holder that died (once: False when this crash was already known)."""
        c = crash
        return self._rowcount(
            "INSERT INTO crashed_runs VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (c.lock_id, c.run_id, c.pid, c.host, c.started_at, c.recovered_by, c.recovered_at, c.message,
             c.alert_claim, c.alerted_at)) == 1

    def unalerted_crashes(self) -> list[CrashedRun]:
        return [CrashedRun(**r) for r in self._q(
            "SELECT * FROM crashed_runs WHERE alerted_at IS NULL ORDER BY recovered_at, started_at")]

    def claim_crash_alert(self, lock_id: str, previous: str | None, claimant: str) -> bool:
        """Take over sending a crash's alert from `previous` (None or a dead process); False if someone else did."""
        if previous is None:
            return self._rowcount("UPDATE crashed_runs SET alert_claim=? WHERE lock_id=? AND alerted_at IS NULL "
                                  "AND alert_claim IS NULL", (claimant, lock_id)) == 1
        return self._rowcount("UPDATE crashed_runs SET alert_claim=? WHERE lock_id=? AND alerted_at IS NULL "
                              "AND alert_claim=?", (claimant, lock_id, previous)) == 1

    def crash_alerted(self, lock_id: str) -> None:
        self._q("UPDATE crashed_runs SET alerted_at=? WHERE lock_id=?", (utcnow(), lock_id))

    # -- watermarks --------------------------------------------------------------
    def watermark(self, source: str, entity: str) -> str | None:
        rows = self._q("SELECT value FROM watermarks WHERE source=? AND entity=?", (source, entity))
        return rows[0]["value"] if rows else None

    def set_watermark(self, source: str, entity: str, value: str) -> None:
        self._q(
            "INSERT INTO watermarks VALUES (?,?,?,?) ON CONFLICT (source, entity) "
            "DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
            (source, entity, value, utcnow()),
        )


def like_prefix(value: str) -> str:
    """A LIKE pattern (escape `\\`) matching values that start with `value` taken literally."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class SqliteDialect:
    """One SQLite file in WAL mode (readers never block the writer), synchronous=FULL."""

    name = "sqlite"
    types = {"bigint": "INTEGER", "double": "REAL"}

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.where = str(path)
        self._db = connect(path)
        self._db.row_factory = sqlite3.Row

    def create_tables(self, statements: list[str], added: dict[str, tuple[str, ...]]) -> None:
        self._db.executescript(";\n".join(statements) + ";")
        for table, columns in added.items():
            have = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

    def execute(self, sql: str, params: tuple[Any, ...]) -> tuple[list[dict[str, Any]], int]:
        cur = self._db.execute(sql, params)
        return [dict(r) for r in cur.fetchall()], cur.rowcount

    def close(self) -> None:
        self._db.close()


class SqliteState(StateStore):
    """The embedded default: state in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(SqliteDialect(path))
