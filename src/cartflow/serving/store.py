"""The serving store (DynamoDB's role): purchase history, seconds after an event.

Two access patterns, as the original tables had them:

* customer → invoices: partition key `customer_id`, sort key `invoice_no`, read newest
  first with per-invoice totals. A line without CustomerID belongs to the customer
  `unknown`, a real key like any other.
* invoice → items: partition key `invoice_no`, sort key `stock_code` + line id.

Every line is upserted under its `line_id` (the event id for streamed lines, gold's
`order_line_id` for CSV lines), so replays, retries and the batch refresh converge on
one row per line. Money is Decimal end to end (DECIMAL(18,3) in gold).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol, Sequence

from cartflow.config import Project

UNKNOWN_CUSTOMER = "unknown"
MILLI = Decimal("0.001")


class StoreError(Exception):
    """The serving store cannot be reached or used; the message says how to fix it."""


class RejectedLines(ValueError):
    """The store refused the values of the lines it was given (a number beyond its column type, a NUL in
    text, an invoice total that overflows): writing the same lines again fails the same way.

    The serving sink isolates the line that causes it and dead-letters that line alone;
    `StoreError` (unreachable, locked, disk full) is the other kind: retry later.
    """


class CursorError(ValueError):
    """A pagination cursor that this store did not hand out."""


@dataclass
class ServingLine:
    line_id: str
    invoice_no: str
    stock_code: str
    description: str | None
    quantity: int
    unit_price: Decimal
    invoice_ts: datetime
    customer_id: str
    country: str | None
    line_type: str
    gross_amount: Decimal
    return_amount: Decimal
    net_amount: Decimal
    currency: str
    source: str
    event_id: str | None = None


@dataclass
class InvoiceSummary:
    invoice_no: str
    customer_id: str
    country: str | None
    invoice_ts: datetime
    line_type: str
    currency: str
    lines: int
    items: int
    gross_amount: Decimal
    return_amount: Decimal
    net_amount: Decimal


@dataclass
class Invoice:
    summary: InvoiceSummary
    items: list[ServingLine]


@dataclass
class CustomerTotals:
    invoices: int
    lines: int
    items: int
    gross_amount: Decimal
    return_amount: Decimal
    net_amount: Decimal
    first_invoice_ts: datetime
    last_invoice_ts: datetime


@dataclass
class CustomerPage:
    customer_id: str
    totals: CustomerTotals
    invoices: list[InvoiceSummary] = field(default_factory=list)
    next_cursor: str | None = None


class ServingStore(Protocol):
    backend: str

    def upsert(self, lines: Sequence[ServingLine]) -> int:
        """Insert or replace lines by line_id and refresh their invoices' totals, atomically.

        Raises `RejectedLines` when the values cannot be stored (nothing is written) and
        `StoreError` when the store cannot be used right now.
        """

    def claim_events(self, claims: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Bind each (event id, content hash) not seen before; return the hash every id is bound to.

        The first content sent under an event id keeps it for good: the API and the serving
        sink compare the returned hash with their own to tell a retry from a conflict.
        """

    def invoice(self, invoice_no: str) -> Invoice | None: ...

    def customer_invoices(self, customer_id: str, limit: int = 20, cursor: str | None = None) -> CustomerPage | None:
        """Newest invoices first; None when the customer has no line at all."""

    def count_lines(self) -> int: ...

    def line_ids(self) -> list[str]: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def amounts(line_type: str, quantity: int, unit_price: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(gross, returns, net) exactly as gold.fct_order_line defines them (docs/definitions.md)."""
    line = (Decimal(quantity) * unit_price).quantize(MILLI)
    gross = line if line_type == "sale" and quantity > 0 and unit_price > 0 else Decimal("0.000")
    returns = abs(line) if line_type == "cancellation" else Decimal("0.000")
    return gross, returns, (gross - returns).quantize(MILLI)


def line_type_of(invoice_no: str) -> str:
    first = invoice_no[:1].upper()
    return {"C": "cancellation", "A": "adjustment"}.get(first, "sale")


def normalise_customer(text: str | None) -> str:
    """Silver's rule: an integer id ('17850.0' is 17850); blank is the unknown customer."""
    if text is None or not text.strip():
        return UNKNOWN_CUSTOMER
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return text.strip()
    if number == number.to_integral_value() and number > 0:
        return str(int(number))
    return text.strip()


def summarise(items: list[ServingLine]) -> InvoiceSummary:
    """An invoice's header from its lines (shared by both backends)."""
    first = items[0]
    return InvoiceSummary(
        invoice_no=first.invoice_no, customer_id=first.customer_id,
        country=next((i.country for i in items if i.country), None),
        invoice_ts=min(i.invoice_ts for i in items), line_type=first.line_type, currency=first.currency,
        lines=len(items), items=sum(i.quantity for i in items),
        gross_amount=sum((i.gross_amount for i in items), Decimal("0.000")),
        return_amount=sum((i.return_amount for i in items), Decimal("0.000")),
        net_amount=sum((i.net_amount for i in items), Decimal("0.000")))


def encode_cursor(invoice_ts: datetime, invoice_no: str) -> str:
    raw = json.dumps([invoice_ts.isoformat(), invoice_no], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        ts, invoice_no = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(ts), str(invoice_no)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise CursorError(f"cursor {cursor!r} is not one this API returned: pass the `next_cursor` "
                          "of the previous page unchanged, or omit it for the first page") from exc


def open_store(project: Project) -> ServingStore:
    """The backend selected by `[serving] backend`."""
    cfg = project.config.serving
    if cfg.backend == "postgres":
        import os

        from cartflow.serving.postgres_store import PostgresStore

        dsn = os.environ.get(cfg.dsn_env)
        if not dsn:
            raise StoreError(f"[serving] backend = \"postgres\" needs a connection string: set {cfg.dsn_env} "
                             "(for example postgresql://user:password@host:5432/db)")
        return PostgresStore(dsn, schema=cfg.pg_schema)
    from cartflow.serving.sqlite_store import SqliteStore

    return SqliteStore(project.resolve(cfg.path))
