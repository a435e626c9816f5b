"""The embedded serving store: one SQLite file (WAL), amounts as integer thousandths.

SQLite has no DECIMAL, so money is stored as exact integers of 0.001 (DECIMAL(18,3)'s
scale) and summed as integers: no float ever touches an amount. Readers get a
connection per thread, so API reads never wait for the serving sink's writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Sequence

from cartflow.runtime.group_commit import GroupCommit
from cartflow.runtime.sqlite import connect
from cartflow.runtime.state import utcnow
from cartflow.serving.documents import invoice_document
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

SCHEMA = """
CREATE TABLE IF NOT EXISTS order_lines (
    line_id TEXT PRIMARY KEY,
    invoice_no TEXT NOT NULL,
    stock_code TEXT NOT NULL,
    description TEXT,
    quantity INTEGER NOT NULL,
    unit_price TEXT NOT NULL,
    invoice_ts TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    country TEXT,
    line_type TEXT NOT NULL,
    gross_milli INTEGER NOT NULL,
    return_milli INTEGER NOT NULL,
    net_milli INTEGER NOT NULL,
    currency TEXT NOT NULL,
    source TEXT NOT NULL,
    event_id TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS order_lines_by_invoice ON order_lines (invoice_no);
CREATE TABLE IF NOT EXISTS invoices (
    customer_id TEXT NOT NULL,
    invoice_no TEXT NOT NULL,
    invoice_ts TEXT NOT NULL,
    country TEXT,
    line_type TEXT NOT NULL,
    currency TEXT NOT NULL,
    lines INTEGER NOT NULL,
    items INTEGER NOT NULL,
    gross_milli INTEGER NOT NULL,
    return_milli INTEGER NOT NULL,
    net_milli INTEGER NOT NULL,
    PRIMARY KEY (customer_id, invoice_no)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS invoices_newest ON invoices (customer_id, invoice_ts DESC, invoice_no DESC);
CREATE TABLE IF NOT EXISTS event_ids (
    event_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    claimed_at TEXT NOT NULL
) WITHOUT ROWID;
"""

TRANSIENT_CODES = frozenset({
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_PERM,
    sqlite3.SQLITE_AUTH})
"""Primary result codes that say the file cannot be used now, whatever the values: retry, never dead-letter."""

BULK_CACHE_KIB = -262_144
"""Page cache while upserting a staged batch (negative = KiB): 256 MiB keeps the indexes in memory."""

_LINE_COLUMNS = ("line_id, invoice_no, stock_code, description, quantity, unit_price, invoice_ts, customer_id, "
                 "country, line_type, gross_milli, return_milli, net_milli, currency, source, event_id")

_ON_LINE_CONFLICT = ("ON CONFLICT (line_id) DO UPDATE SET "
                     + ", ".join(f"{c}=excluded.{c}" for c in _LINE_COLUMNS.split(", ")[1:] + ["updated_at"]))
_UPSERT_LINE = (f"INSERT INTO order_lines ({_LINE_COLUMNS}, updated_at) VALUES ({','.join('?' * 17)}) "
                + _ON_LINE_CONFLICT)
_INVOICE_INDEX = "CREATE INDEX order_lines_by_invoice ON order_lines (invoice_no)"
_INVOICE_COLUMNS = ("customer_id, invoice_no, invoice_ts, country, line_type, currency, lines, items, "
                    "gross_milli, return_milli, net_milli")
_UPSERT_STAGED = (f"INSERT INTO order_lines ({_LINE_COLUMNS}, updated_at) "
                  f"SELECT {_LINE_COLUMNS}, ? FROM refresh_stage.lines WHERE true "  # WHERE: SQLite's upsert grammar
                  + _ON_LINE_CONFLICT)
_SUMMARISE = ("INSERT INTO invoices SELECT customer_id, invoice_no, MIN(invoice_ts), MIN(country), "
              "MIN(line_type), MIN(currency), COUNT(*), SUM(quantity), SUM(gross_milli), SUM(return_milli), "
              "SUM(net_milli) FROM order_lines")


def _milli(d: Decimal) -> int:
    return int(d.scaleb(3).to_integral_value())


_HALF = 1_000_000_000
"""Money sums across invoices are taken in two parts of this size (see customer_invoices)."""


def _money(m: int | None) -> Decimal:
    return Decimal(m or 0).scaleb(-3)


def _ts(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


class SqliteStore:
    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._claims: GroupCommit[tuple[str, str], dict[str, str]] = GroupCommit(self._claim_all)
        try:
            self._db().executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"serving store {path}: {exc}: check [serving] path") from exc

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
            self._connections.append(db)
        return db

    def upsert(self, lines: Sequence[ServingLine]) -> int:
        if not lines:
            return 0
        now = utcnow()
        try:
            rows = [(ln.line_id, ln.invoice_no, ln.stock_code, ln.description, ln.quantity, str(ln.unit_price),
                     _ts(ln.invoice_ts), ln.customer_id, ln.country, ln.line_type, _milli(ln.gross_amount),
                     _milli(ln.return_amount), _milli(ln.net_amount), ln.currency, ln.source, ln.event_id, now)
                    for ln in lines]
            invoices = json.dumps(sorted({ln.invoice_no for ln in lines}))
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise RejectedLines(f"serving store {self.path.name}: {type(exc).__name__}: {exc}") from exc
        with self._write_lock:
            self._write(lambda db: (
                db.executemany(_UPSERT_LINE, rows),
                db.execute("DELETE FROM invoices WHERE invoice_no IN (SELECT value FROM json_each(?))", (invoices,)),
                db.execute(_SUMMARISE + " WHERE invoice_no IN (SELECT value FROM json_each(?)) "
                           "GROUP BY customer_id, invoice_no", (invoices,))))
        return len(rows)

    def _write(self, statements: Callable[[sqlite3.Connection], object]) -> None:
        """Run `statements` in one write transaction; say whether a failure is the values' or the file's."""
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                statements(db)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            if code is None or code & 0xFF in TRANSIENT_CODES:
                raise StoreError(f"serving store {self.path}: {exc}: retrying; check the disk and that no "
                                 "other process holds the file") from exc
            raise RejectedLines(f"serving store {self.path.name}: {exc}") from exc
        except (OverflowError, ValueError, TypeError) as exc:  # a Python value SQLite cannot bind
            raise RejectedLines(f"serving store {self.path.name}: {type(exc).__name__}: {exc}") from exc

    def claim_events(self, claims: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Concurrent callers (API requests in flight) share one transaction and fsync (group commit)."""
        if not claims:
            return {}
        return self._claims.submit(claims)

    def _claim_all(self, groups: list[Sequence[tuple[str, str]]]) -> list[dict[str, str]]:
        claims = [c for group in groups for c in group]
        first: dict[str, str] = {}
        for event_id, digest in claims:
            first.setdefault(event_id, digest)
        now = utcnow()
        held: dict[str, str] = {}

        def claim(db: sqlite3.Connection) -> None:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO event_ids VALUES (?, ?, ?)", [(i, h, now) for i, h in claims])
            if db.total_changes - before == len(first):  # every id was new: each is bound to its first claim
                held.update(first)
                return
            held.update(db.execute("SELECT event_id, content_hash FROM event_ids "
                                   "WHERE event_id IN (SELECT value FROM json_each(?))",
                                   (json.dumps(sorted(first)),)).fetchall())

        with self._write_lock:
            self._write(claim)
        return [{event_id: held[event_id] for event_id, _ in group} for group in groups]

    def upsert_staged(self, stage: Path) -> int:
        """The batch refresh's fast path: upsert every row of a staging SQLite file in SQL.

        `stage` holds `lines` (rows in `_LINE_COLUMNS` order, money in thousandths) and
        `invoices` (their totals). On an empty store the totals are taken as staged;
        otherwise each touched invoice is re-summarised from all of its lines, so lines the
        stream wrote earlier still count. One transaction: readers see all or nothing.
        """
        now = utcnow()
        db = self._db()
        with self._write_lock:
            db.execute("ATTACH DATABASE ? AS refresh_stage", (str(stage),))
            db.execute(f"PRAGMA cache_size = {BULK_CACHE_KIB}")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    was_empty = db.execute("SELECT NOT EXISTS (SELECT 1 FROM order_lines)").fetchone()[0]
                    written = db.execute("SELECT COUNT(*) FROM refresh_stage.lines").fetchone()[0]
                    # A first load: maintaining the invoice index row by row costs ~3x
                    # building it once afterwards (rows arrive sorted by line_id, not invoice).
                    if was_empty:
                        db.execute("DROP INDEX order_lines_by_invoice")
                    db.execute(_UPSERT_STAGED, (now,))
                    if was_empty:
                        db.execute(_INVOICE_INDEX)
                        db.execute(f"INSERT INTO invoices ({_INVOICE_COLUMNS}) "
                                   f"SELECT {_INVOICE_COLUMNS} FROM refresh_stage.invoices")
                    else:
                        touched = "SELECT DISTINCT invoice_no FROM refresh_stage.lines"
                        db.execute(f"DELETE FROM invoices WHERE invoice_no IN ({touched})")
                        db.execute(_SUMMARISE + f" WHERE invoice_no IN ({touched}) GROUP BY customer_id, invoice_no")
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            finally:
                db.execute("PRAGMA cache_size = -2000")  # SQLite's default again
                db.execute("DETACH DATABASE refresh_stage")
        return written

    def invoice(self, invoice_no: str) -> Invoice | None:
        rows = self._db().execute(
            f"SELECT {_LINE_COLUMNS} FROM order_lines WHERE invoice_no=? ORDER BY stock_code, line_id",
            (invoice_no,)).fetchall()
        if not rows:
            return None
        items = [_line(r) for r in rows]
        return Invoice(summary=summarise(items), items=items)

    def invoice_json(self, invoice_no: str) -> bytes | None:
        """`invoice` already rendered as the API's JSON document (see serving/documents.py)."""
        return invoice_document(self._db(), invoice_no)

    # A customer's invoices may together pass a 64-bit integer of thousandths, where SQLite's SUM
    # fails ("integer overflow"): each amount is summed in two parts (integer division truncates
    # and % keeps the sign, so amount = part1 * _HALF + part2 exactly) and joined by Python's ints.
    def customer_invoices(self, customer_id: str, limit: int = 20, cursor: str | None = None) -> CustomerPage | None:
        db = self._db()
        sums = ", ".join(f"SUM({c} / {_HALF}), SUM({c} % {_HALF})" for c in ("gross_milli", "return_milli", "net_milli"))
        t = db.execute(f"SELECT COUNT(*), SUM(lines), SUM(items), {sums}, MIN(invoice_ts), MAX(invoice_ts) "
                       "FROM invoices WHERE customer_id=?", (customer_id,)).fetchone()
        if not t[0]:
            return None
        gross, returns, net = (_money(t[i] * _HALF + t[i + 1]) for i in (3, 5, 7))
        totals = CustomerTotals(invoices=t[0], lines=t[1], items=t[2], gross_amount=gross, return_amount=returns,
                                net_amount=net, first_invoice_ts=datetime.fromisoformat(t[9]),
                                last_invoice_ts=datetime.fromisoformat(t[10]))
        sql, params = "SELECT * FROM invoices WHERE customer_id=?", [customer_id]
        if cursor:
            ts, invoice_no = decode_cursor(cursor)
            sql += " AND (invoice_ts < ? OR (invoice_ts = ? AND invoice_no < ?))"
            params += [_ts(ts), _ts(ts), invoice_no]
        sql += " ORDER BY invoice_ts DESC, invoice_no DESC LIMIT ?"
        rows = db.execute(sql, [*params, limit + 1]).fetchall()
        page = [_summary(r) for r in rows[:limit]]
        nxt = encode_cursor(page[-1].invoice_ts, page[-1].invoice_no) if len(rows) > limit else None
        return CustomerPage(customer_id=customer_id, totals=totals, invoices=page, next_cursor=nxt)

    def count_lines(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM order_lines").fetchone()[0]

    def line_ids(self) -> list[str]:
        return [r[0] for r in self._db().execute("SELECT line_id FROM order_lines ORDER BY line_id")]

    def ping(self) -> None:
        try:
            self._db().execute("SELECT 1 FROM invoices LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"serving store {self.path}: {exc}") from exc

    def close(self) -> None:
        for db in self._connections:
            db.close()
        self._connections.clear()
        self._local = threading.local()


def _line(r: tuple[Any, ...]) -> ServingLine:
    return ServingLine(line_id=r[0], invoice_no=r[1], stock_code=r[2], description=r[3], quantity=r[4],
                       unit_price=Decimal(r[5]), invoice_ts=datetime.fromisoformat(r[6]), customer_id=r[7],
                       country=r[8], line_type=r[9], gross_amount=_money(r[10]), return_amount=_money(r[11]),
                       net_amount=_money(r[12]), currency=r[13], source=r[14], event_id=r[15])


def _summary(r: tuple[Any, ...]) -> InvoiceSummary:
    return InvoiceSummary(customer_id=r[0], invoice_no=r[1], invoice_ts=datetime.fromisoformat(r[2]), country=r[3],
                          line_type=r[4], currency=r[5], lines=r[6], items=r[7], gross_amount=_money(r[8]),
                          return_amount=_money(r[9]), net_amount=_money(r[10]))

