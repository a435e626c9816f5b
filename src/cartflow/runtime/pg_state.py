"""The state store on PostgreSQL: the same methods as `SqliteState`, shared by many machines.

Why PostgreSQL: several workers (or a scheduler plus ad-hoc runs) on different machines
must agree on which batches exist, which were transformed and where each source's
watermark is. Every write is a single statement in autocommit, and every "insert once"
is `ON CONFLICT DO NOTHING` on the primary key, so two processes landing the same batch
record it exactly once. The tables live in their own schema (`[state] schema`).
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from cartflow.runtime.state import MANIFEST_COLUMNS, Manifest, utcnow

SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (
    source TEXT NOT NULL,
    entity TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    raw_key TEXT NOT NULL,
    source_file TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    rows BIGINT,
    extracted_at TEXT NOT NULL,
    watermark TEXT,
    status TEXT NOT NULL,
    bronze_key TEXT,
    run_id TEXT,
    rejection TEXT,
    raw_deleted_at TEXT,
    PRIMARY KEY (source, entity, batch_id)
);
ALTER TABLE manifests ADD COLUMN IF NOT EXISTS rejection TEXT;
ALTER TABLE manifests ADD COLUMN IF NOT EXISTS raw_deleted_at TEXT;
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
    seconds DOUBLE PRECISION,
    rows BIGINT,
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

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: any constant works: it only serialises schema creation between processes
_DDL_LOCK_KEY = 0x636172746C6F77  # "cartflow"


class StateConfigError(Exception):
    """The PostgreSQL state store is misconfigured or unreachable; the message says what to fix."""


def redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        if parts.password:
            host = parts.netloc.rsplit("@", 1)[1]
            return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
        return dsn
    return re.sub(r"password\s*=\s*\S+", "password=***", dsn)


class PostgresState:
    """State in PostgreSQL; method for method the same as `SqliteState`."""

    def __init__(self, dsn: str, schema: str = "cartflow") -> None:
        if not _IDENT.match(schema):
            raise StateConfigError(f"[state] schema = {schema!r}: use lower-case letters, digits and _")
        self.dsn, self.schema = dsn, schema
        self.where = f"{redact(dsn)} (schema {schema})"
        self._lock = threading.Lock()
        self._db = self._connect()
        self._create_schema()

    @classmethod
    def from_env(cls, dsn_env: str, schema: str = "cartflow") -> "PostgresState":
        dsn = os.environ.get(dsn_env)
        if not dsn:
            raise StateConfigError(
                f"[state] backend = \"postgres\" needs a DSN: set {dsn_env} to a PostgreSQL URL such as "
                "postgresql://user:password@host:5432/dbname (the variable's name is [state] dsn_env)")
        return cls(dsn, schema)

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row, connect_timeout=10,
                                   application_name="cartflow-state")
        except psycopg.Error as exc:
            raise StateConfigError(f"cannot connect to the PostgreSQL state store {redact(self.dsn)}: "
                                   f"{_first_line(exc)}. Check the DSN in [state] dsn_env and that the "
                                   "server accepts connections.") from None

    def _create_schema(self) -> None:
        # concurrent CREATE ... IF NOT EXISTS can still collide in the catalog: serialise it
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK_KEY,))
            self._db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            self._db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            for statement in filter(str.strip, SCHEMA.split(";")):
                self._db.execute(statement)  # type: ignore[call-overload]
        self._db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))

    def close(self) -> None:
        self._db.close()

    def _q(self, query: Any, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            try:
                cur = self._db.execute(query, params)
            except psycopg.OperationalError:
                if not self._db.closed and not self._db.broken:
                    raise
                # the server restarted or the connection dropped: one fresh try (statements are idempotent)
                self._db = self._connect()
                self._db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
                cur = self._db.execute(query, params)
            return cur.fetchall() if cur.description else []

    def _rowcount(self, query: Any, params: tuple[Any, ...]) -> int:
        with self._lock:
            return self._db.execute(query, params).rowcount

    # -- manifests ---------------------------------------------------------------
    def get_manifest(self, source: str, entity: str, batch_id: str) -> Manifest | None:
        rows = self._q("SELECT * FROM manifests WHERE source=%s AND entity=%s AND batch_id=%s",
                       (source, entity, batch_id))
        return Manifest(**rows[0]) if rows else None

    def add_manifest(self, m: Manifest) -> bool:
        """Insert; False when the batch was already known (same content = same batch)."""
        return self._rowcount(
            f"INSERT INTO manifests ({', '.join(MANIFEST_COLUMNS)}) VALUES "
            f"({','.join(['%s'] * len(MANIFEST_COLUMNS))}) ON CONFLICT DO NOTHING",
            tuple(getattr(m, c) for c in MANIFEST_COLUMNS),
        ) == 1

    def update_manifest(self, source: str, entity: str, batch_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(MANIFEST_COLUMNS)
        if unknown:
            raise ValueError(f"update_manifest: unknown column(s) {sorted(unknown)}")
        sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in fields)
        self._q(sql.SQL("UPDATE manifests SET {} WHERE source=%s AND entity=%s AND batch_id=%s").format(sets),
                (*fields.values(), source, entity, batch_id))

    def manifests(self, status: str | None = None, entity: str | None = None,
                  source: str | None = None) -> list[Manifest]:
        """Batches (optionally of one status, entity, source); rejection records only by status."""
        query, params = "SELECT * FROM manifests WHERE 1=1", []
        if source:
            query += " AND source=%s"
            params.append(source)
        if status:
            query += " AND status=%s"
            params.append(status)
        else:  # batches only: a rejection record holds no landed content (ask for status="rejected")
            query += " AND status NOT IN ('rejected', 'retry')"
        if entity:
            query += " AND entity=%s"
            params.append(entity)
        query += " ORDER BY extracted_at, source_file"
        return [Manifest(**r) for r in self._q(query, tuple(params))]

    # -- runs --------------------------------------------------------------------
    def start_run(self, run_id: str, trigger: str) -> None:
        self._q("INSERT INTO runs (run_id, started_at, status, trigger) VALUES (%s,%s,%s,%s)",
                (run_id, utcnow(), "running", trigger))

    def finish_run(self, run_id: str, status: str, error: str | None, stats: dict[str, Any]) -> None:
        self._q("UPDATE runs SET finished_at=%s, status=%s, error=%s, stats=%s WHERE run_id=%s",
                (utcnow(), status, error, json.dumps(stats, default=str), run_id))

    def record_task(self, run_id: str, task: str, status: str, *, started_at: str | None = None,
                    seconds: float | None = None, rows: int | None = None, attempts: int = 1,
                    error: str | None = None) -> None:
        self._q(
            "INSERT INTO run_tasks VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (run_id, task) DO UPDATE SET "
            "status=excluded.status, finished_at=excluded.finished_at, seconds=excluded.seconds, "
            "rows=excluded.rows, attempts=excluded.attempts, error=excluded.error",
            (run_id, task, status, started_at, utcnow(), seconds, rows, attempts, error),
        )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._q("SELECT * FROM runs ORDER BY started_at DESC LIMIT %s", (limit,))

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._q("SELECT * FROM runs WHERE run_id=%s OR run_id LIKE %s ORDER BY run_id = %s DESC, run_id",
                       (run_id, _like_prefix(run_id), run_id))
        if not rows:
            return None
        run = rows[0]
        run["tasks"] = self._q("SELECT * FROM run_tasks WHERE run_id=%s ORDER BY started_at", (run["run_id"],))
        return run

    # -- watermarks --------------------------------------------------------------
    def watermark(self, source: str, entity: str) -> str | None:
        rows = self._q("SELECT value FROM watermarks WHERE source=%s AND entity=%s", (source, entity))
        return rows[0]["value"] if rows else None

    def set_watermark(self, source: str, entity: str, value: str) -> None:
        self._q(
            "INSERT INTO watermarks VALUES (%s,%s,%s,%s) ON CONFLICT (source, entity) "
            "DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
            (source, entity, value, utcnow()),
        )


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
