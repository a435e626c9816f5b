"""The state store's PostgreSQL dialect: the same `StateStore`, shared by many machines.

Why PostgreSQL: several workers (or a scheduler plus ad-hoc runs) on different machines
must agree on which batches exist, which were transformed and where each source's
watermark is. Every write is a single statement in autocommit, and every "insert once"
is `ON CONFLICT DO NOTHING` on the primary key, so two processes landing the same batch
record it exactly once. The tables live in their own schema (`[state] schema`).

Only the dialect lives here (connecting, the schema, `%s` placeholders, reconnecting);
the queries are `cartflow.runtime.state.StateStore`'s, shared with SQLite.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from cartflow.runtime.state import StateStore

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


class PostgresDialect:
    """PostgreSQL in autocommit, tables in their own schema; one reconnect when the server dropped us."""

    name = "postgres"
    types = {"bigint": "BIGINT", "double": "DOUBLE PRECISION"}

    def __init__(self, dsn: str, schema: str = "cartflow") -> None:
        if not _IDENT.match(schema):
            raise StateConfigError(f"[state] schema = {schema!r}: use lower-case letters, digits and _")
        self.dsn, self.schema = dsn, schema
        self.where = f"{redact(dsn)} (schema {schema})"
        self._db = self._connect()

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        try:
            return psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row, connect_timeout=10,
                                   application_name="cartflow-state")
        except psycopg.Error as exc:
            raise StateConfigError(f"cannot connect to the PostgreSQL state store {redact(self.dsn)}: "
                                   f"{_first_line(exc)}. Check the DSN in [state] dsn_env and that the "
                                   "server accepts connections.") from None

    def _search_path(self) -> None:
        self._db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))

    def create_tables(self, statements: list[str], added: dict[str, tuple[str, ...]]) -> None:
        # concurrent CREATE ... IF NOT EXISTS can still collide in the catalog: serialise it
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK_KEY,))
            self._db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            self._search_path()
            for statement in statements:
                self._db.execute(statement.encode())
            for table, columns in added.items():
                for column in columns:
                    self._db.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} TEXT").format(
                        sql.Identifier(table), sql.Identifier(column)))
        self._search_path()

    def execute(self, query: str, params: tuple[Any, ...]) -> tuple[list[dict[str, Any]], int]:
        text = to_pyformat(query)
        try:
            cur = self._db.execute(text.encode(), params)
        except psycopg.OperationalError:
            if not self._db.closed and not self._db.broken:
                raise
            # the server restarted or the connection dropped: one fresh try (statements are idempotent)
            self._db = self._connect()
            self._search_path()
            cur = self._db.execute(text.encode(), params)
        return (cur.fetchall() if cur.description else []), cur.rowcount

    def close(self) -> None:
        self._db.close()


class PostgresState(StateStore):
    """The state store on PostgreSQL (`[state] backend = "postgres"`)."""

    def __init__(self, dsn: str, schema: str = "cartflow") -> None:
        self.dsn, self.schema = dsn, schema
        super().__init__(PostgresDialect(dsn, schema))

    @classmethod
    def from_env(cls, dsn_env: str, schema: str = "cartflow") -> PostgresState:
        dsn = os.environ.get(dsn_env)
        if not dsn:
            raise StateConfigError(
                f"[state] backend = \"postgres\" needs a DSN: set {dsn_env} to a PostgreSQL URL such as "
                "postgresql://user:password@host:5432/dbname (the variable's name is [state] dsn_env)")
        return cls(dsn, schema)


def to_pyformat(query: str) -> str:
    """`?` placeholders as psycopg's `%s` (a literal `%` doubled); the state SQL has no `?` in literals."""
    return query.replace("%", "%%").replace("?", "%s")


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
