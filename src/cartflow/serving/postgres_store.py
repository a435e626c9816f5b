"""The serving store at scale: PostgreSQL, NUMERIC(18,3) money, one schema of its own.

Writers (the serving sink, the batch refresh) take a transaction-scoped advisory lock,
so two of them recomputing the same invoice's totals never interleave. Readers use a
small pool of connections and never take that lock.
"""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Iterator, Sequence

import psycopg
from psycopg import sql

from cartflow.serving.store import (
    CustomerPage,
    CustomerTotals,
    Invoice,
    InvoiceSummary,
    RejectedLines,
    ServingLine,
    StoreError,
    decode_cursor,
    encode_cursor,
    summarise,
)

POOL_SIZE = 4
_LOCK_KEY = 0x63617274  # "cart": serialises writers of this store

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.order_lines (
    line_id TEXT PRIMARY KEY,
    invoice_no TEXT NOT NULL,
    stock_code TEXT NOT NULL,
    description TEXT,
    quantity INTEGER NOT NULL,
    unit_price NUMERIC(18, 3) NOT NULL,
    invoice_ts TIMESTAMP NOT NULL,
    customer_id TEXT NOT NULL,
    country TEXT,
    line_type TEXT NOT NULL,
    gross_amount NUMERIC(18, 3) NOT NULL,
    return_amount NUMERIC(18, 3) NOT NULL,
    net_amount NUMERIC(18, 3) NOT NULL,
    currency TEXT NOT NULL,
    source TEXT NOT NULL,
    event_id TEXT,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS order_lines_by_invoice ON {schema}.order_lines (invoice_no, stock_code, line_id);
CREATE TABLE IF NOT EXISTS {schema}.invoices (
    customer_id TEXT NOT NULL,
    invoice_no TEXT NOT NULL,
    invoice_ts TIMESTAMP NOT NULL,
    country TEXT,
    line_type TEXT NOT NULL,
    currency TEXT NOT NULL,
    lines INTEGER NOT NULL,
    items BIGINT NOT NULL,
    gross_amount NUMERIC(18, 3) NOT NULL,
    return_amount NUMERIC(18, 3) NOT NULL,
    net_amount NUMERIC(18, 3) NOT NULL,
    PRIMARY KEY (customer_id, invoice_no)
);
CREATE INDEX IF NOT EXISTS invoices_newest ON {schema}.invoices (customer_id, invoice_ts DESC, invoice_no DESC);
CREATE TABLE IF NOT EXISTS {schema}.event_ids (
    event_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""

REJECTED_CLASSES = ("22", "23", "54")
"""SQLSTATE classes that blame the values (data exception, integrity, program limit such as an index row
too large); every other failure (connection, shutdown, locks, a missing table) is the store's: retry."""

_COLUMNS = ["line_id", "invoice_no", "stock_code", "description", "quantity", "unit_price", "invoice_ts",
            "customer_id", "country", "line_type", "gross_amount", "return_amount", "net_amount", "currency",
            "source", "event_id"]


class PostgresStore:
    backend = "postgres"

    def __init__(self, dsn: str, schema: str = "cartflow_serving") -> None:
        self.dsn, self.schema = dsn, schema
        self._s = sql.Identifier(schema)
        self._pool: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()
        with self._conn() as conn:
            conn.execute(sql.SQL(SCHEMA).format(schema=self._s))

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        conn = self._checkout()
        try:
            with conn.transaction():
                yield conn
        except psycopg.OperationalError:
            conn.close()  # a broken connection never goes back to the pool
            raise
        finally:
            if not conn.closed:
                self._pool.put(conn)
            else:
                with self._lock:
                    self._created -= 1

    def _checkout(self) -> psycopg.Connection:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            grow = self._created < POOL_SIZE
            if grow:
                self._created += 1
        if not grow:
            return self._pool.get(timeout=30)
        try:
            return psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            with self._lock:
                self._created -= 1
            raise StoreError(f"serving store: cannot connect to PostgreSQL ({exc}): check the DSN in "
                             "the [serving] dsn_env variable and that the server is up") from exc

    def _q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(s=self._s)

    def upsert(self, lines: Sequence[ServingLine]) -> int:
        if not lines:
            return 0
        rows = [(ln.line_id, ln.invoice_no, ln.stock_code, ln.description, ln.quantity, ln.unit_price,
                 ln.invoice_ts, ln.customer_id, ln.country, ln.line_type, ln.gross_amount, ln.return_amount,
                 ln.net_amount, ln.currency, ln.source, ln.event_id) for ln in lines]
        invoices = sorted({ln.invoice_no for ln in lines})
        updates = ", ".join(f"{c}=excluded.{c}" for c in _COLUMNS[1:])
        with self._writing() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            with conn.cursor() as cur:
                cur.executemany(self._q(
                    f"INSERT INTO {{s}}.order_lines ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * 16)}) "
                    f"ON CONFLICT (line_id) DO UPDATE SET {updates}, updated_at=now()"), rows)
            conn.execute(self._q("DELETE FROM {s}.invoices WHERE invoice_no = ANY(%s)"), (invoices,))
            conn.execute(self._q(
                "INSERT INTO {s}.invoices SELECT customer_id, invoice_no, MIN(invoice_ts), MIN(country), "
                "MIN(line_type), MIN(currency), COUNT(*), SUM(quantity), SUM(gross_amount), SUM(return_amount), "
                "SUM(net_amount) FROM {s}.order_lines WHERE invoice_no = ANY(%s) GROUP BY customer_id, invoice_no"),
                (invoices,))
        return len(rows)

    def claim_events(self, claims: Sequence[tuple[str, str]]) -> dict[str, str]:
        if not claims:
            return {}
        with self._writing() as conn:
            with conn.cursor() as cur:
                cur.executemany(self._q("INSERT INTO {s}.event_ids (event_id, content_hash) VALUES (%s, %s) "
                                        "ON CONFLICT (event_id) DO NOTHING"), list(claims))
            rows = conn.execute(self._q("SELECT event_id, content_hash FROM {s}.event_ids WHERE event_id = ANY(%s)"),
                                (sorted({i for i, _ in claims}),)).fetchall()
        return dict(rows)

    @contextmanager
    def _writing(self) -> Iterator[psycopg.Connection]:
        """`_conn`, with failures sorted: the values' (`RejectedLines`) or the store's (`StoreError`)."""
        try:
            with self._conn() as conn:
                yield conn
        except psycopg.Error as exc:
            state = exc.sqlstate or ""
            if state[:2] in REJECTED_CLASSES or (not state and isinstance(exc, psycopg.DataError)):
                raise RejectedLines(f"serving store (PostgreSQL): {exc}") from exc
            raise StoreError(f"serving store (PostgreSQL): {exc}: retrying; check that the server is up and "
                             "the schema intact") from exc
        except (OverflowError, ValueError, TypeError) as exc:  # a Python value psycopg cannot adapt
            raise RejectedLines(f"serving store (PostgreSQL): {type(exc).__name__}: {exc}") from exc

    def invoice(self, invoice_no: str) -> Invoice | None:
        with self._conn() as conn:
            rows = conn.execute(self._q(
                f"SELECT {', '.join(_COLUMNS)} FROM {{s}}.order_lines WHERE invoice_no = %s "
                "ORDER BY stock_code, line_id"), (invoice_no,)).fetchall()
        if not rows:
            return None
        items = [ServingLine(*r) for r in rows]
        return Invoice(summary=summarise(items), items=items)

    def customer_invoices(self, customer_id: str, limit: int = 20, cursor: str | None = None) -> CustomerPage | None:
        after = decode_cursor(cursor) if cursor else None
        with self._conn() as conn:
            t = conn.execute(self._q(
                "SELECT COUNT(*), SUM(lines), SUM(items), SUM(gross_amount), SUM(return_amount), SUM(net_amount), "
                "MIN(invoice_ts), MAX(invoice_ts) FROM {s}.invoices WHERE customer_id = %s"), (customer_id,)).fetchone()
            if not t or not t[0]:
                return None
            where = "customer_id = %s"
            params: list[Any] = [customer_id]
            if after:
                where += " AND (invoice_ts, invoice_no) < (%s, %s)"
                params += [after[0], after[1]]
            rows = conn.execute(self._q(
                "SELECT customer_id, invoice_no, invoice_ts, country, line_type, currency, lines, items, "
                f"gross_amount, return_amount, net_amount FROM {{s}}.invoices WHERE {where} "
                "ORDER BY invoice_ts DESC, invoice_no DESC LIMIT %s"), [*params, limit + 1]).fetchall()
        totals = CustomerTotals(invoices=t[0], lines=int(t[1]), items=int(t[2]), gross_amount=_d(t[3]),
                                return_amount=_d(t[4]), net_amount=_d(t[5]), first_invoice_ts=t[6],
                                last_invoice_ts=t[7])
        page = [_summary(r) for r in rows[:limit]]
        nxt = encode_cursor(page[-1].invoice_ts, page[-1].invoice_no) if len(rows) > limit else None
        return CustomerPage(customer_id=customer_id, totals=totals, invoices=page, next_cursor=nxt)

    def count_lines(self) -> int:
        with self._conn() as conn:
            return conn.execute(self._q("SELECT COUNT(*) FROM {s}.order_lines")).fetchone()[0]  # type: ignore[index]  # an aggregate returns one row

    def line_ids(self) -> list[str]:
        with self._conn() as conn:
            return [r[0] for r in conn.execute(self._q("SELECT line_id FROM {s}.order_lines ORDER BY line_id"))]

    def ping(self) -> None:
        try:
            with self._conn() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise StoreError(f"serving store (PostgreSQL): {exc}") from exc

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                break


def _d(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.001"))


def _summary(r: tuple[Any, ...]) -> InvoiceSummary:
    return InvoiceSummary(customer_id=r[0], invoice_no=r[1], invoice_ts=r[2], country=r[3], line_type=r[4],
                          currency=r[5], lines=r[6], items=int(r[7]), gross_amount=r[8], return_amount=r[9],
                          net_amount=r[10])
