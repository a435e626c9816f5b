"""The state store: batch manifests, runs and their stages, watermarks.

SQLite is the embedded default. The SQL is kept to the subset PostgreSQL shares, so a
PostgreSQL backend can implement the same methods for several machines sharing a lake.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (
    source TEXT NOT NULL,
    entity TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    raw_key TEXT NOT NULL,
    source_file TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    rows INTEGER,
    extracted_at TEXT NOT NULL,
    watermark TEXT,
    status TEXT NOT NULL,
    bronze_key TEXT,
    run_id TEXT,
    rejection TEXT,
    raw_deleted_at TEXT,
    PRIMARY KEY (source, entity, batch_id)
);
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
    seconds REAL,
    rows INTEGER,
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
"""


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


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


class SqliteState:
    """Embedded state in one SQLite file (WAL: readers never block the writer)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        have = {r[1] for r in self._db.execute("PRAGMA table_info(manifests)")}
        for column in ADDED_MANIFEST_COLUMNS:
            if column not in have:
                self._db.execute(f"ALTER TABLE manifests ADD COLUMN {column} TEXT")

    def close(self) -> None:
        self._db.close()

    def _q(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- manifests ---------------------------------------------------------------
    def get_manifest(self, source: str, entity: str, batch_id: str) -> Manifest | None:
        rows = self._q(
            "SELECT * FROM manifests WHERE source=? AND entity=? AND batch_id=?", (source, entity, batch_id)
        )
        return Manifest(**dict(rows[0])) if rows else None

    def add_manifest(self, m: Manifest) -> bool:
        """Insert; False when the batch was already known (same content = same batch)."""
        with self._lock:
            cur = self._db.execute(
                f"INSERT INTO manifests ({', '.join(MANIFEST_COLUMNS)}) VALUES "
                f"({','.join('?' * len(MANIFEST_COLUMNS))}) ON CONFLICT DO NOTHING",
                tuple(getattr(m, c) for c in MANIFEST_COLUMNS),
            )
            return cur.rowcount == 1

    def update_manifest(self, source: str, entity: str, batch_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(MANIFEST_COLUMNS)
        if unknown:
            raise ValueError(f"update_manifest: unknown column(s) {sorted(unknown)}")
        cols = ", ".join(f"{k}=?" for k in fields)
        self._q(
            f"UPDATE manifests SET {cols} WHERE source=? AND entity=? AND batch_id=?",
            (*fields.values(), source, entity, batch_id),
        )

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
        return [Manifest(**dict(r)) for r in self._q(sql, tuple(params))]

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
        self._q(
            "INSERT INTO run_tasks VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (run_id, task) DO UPDATE SET "
            "status=excluded.status, finished_at=excluded.finished_at, seconds=excluded.seconds, "
            "rows=excluded.rows, attempts=excluded.attempts, error=excluded.error",
            (run_id, task, status, started_at, utcnow(), seconds, rows, attempts, error),
        )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return [dict(r) for r in self._q("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))]

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._q("SELECT * FROM runs WHERE run_id=? OR run_id LIKE ?", (run_id, f"{run_id}%"))
        if not rows:
            return None
        run = dict(rows[0])
        run["tasks"] = [dict(r) for r in self._q(
            "SELECT * FROM run_tasks WHERE run_id=? ORDER BY started_at", (run["run_id"],))]
        return run

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

