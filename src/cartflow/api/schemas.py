"""Request and response shapes, for the OpenAPI document and for clients.

Money is a decimal string ("15.300"): JSON numbers are floats in most clients, and an
amount must never pass through a float. Timestamps are ISO 8601 without a zone, as the
source's invoice times are (shop-local time).
"""

from __future__ import annotations

import math
from datetime import time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field

from cartflow.entities import MONEY_MAX, Column, DateWindow
from cartflow.entities.values import MAX_NUMBER_TEXT
from cartflow.serving.store import CustomerPage, Invoice, InvoiceSummary, ServingLine
from cartflow.stream.patterns import (
    EVENT_ID,
    anchored,
    decimal_pattern,
    integer_pattern,
    invoice_date_pattern,
    optional_text,
    required_text,
)
from cartflow.stream.records import COLUMNS, DEFAULT_DATE_FORMAT, REQUIRED, whole_number_bounds

EXAMPLE_LINE = {"InvoiceNo": "536365", "StockCode": "85123A", "Description": "WHITE HANGING HEART T-LIGHT HOLDER",
                "Quantity": 6, "InvoiceDate": "12/1/2010 8:26", "UnitPrice": "2.55", "CustomerID": 17850,
                "Country": "United Kingdom"}


def order_line_schema(date_format: str, window: DateWindow) -> dict[str, Any]:
    """`OrderLineIn`, the JSON Schema of one order line, generated from the contract (`ORDER_LINES`).

    Every constraint here is the one `validate()` applies, built from the same `Column`s and
    patterns (stream/patterns.py): what the document admits, the API accepts. Two rules
    have no JSON Schema form and are stated in the descriptions: quantity x price must fit
    DECIMAL(18,3), and an event id keeps the content it was first accepted with. The date
    pattern admits the whole days of `window` (an instant at its very ends may be accepted
    too); it is built for the day the document is served.
    """
    properties: dict[str, Any] = {}
    for column in COLUMNS:
        name = str(column.api_name)
        properties[name] = {"description": column.description, **_field_schema(column, date_format, window)}
    properties["UnitPrice"]["description"] += (f" Quantity x UnitPrice must fit DECIMAL(18,3) (at most "
                                               f"{MONEY_MAX:,} either way): else out_of_range:line_amount.")
    properties["event_id"] = {
        "description": "Idempotency key; derived from the content when absent. An id keeps the content it was "
                       "first accepted with: other content under it is rejected (event_id_conflict).",
        "anyOf": [{"type": "string", "pattern": anchored(EVENT_ID)}, {"type": "null"}]}
    return {"title": "OrderLineIn", "type": "object", "description": "One order line (the Online Retail fields), "
            "within the entity contract; an invalid line is rejected on its own, with a reason per field.",
            "properties": properties, "required": list(REQUIRED), "additionalProperties": False,
            "example": EXAMPLE_LINE}


def _field_schema(column: Column, date_format: str, window: DateWindow) -> dict[str, Any]:
    optional = [] if column.required else [{"type": "null"}]
    if column.type == "integer":
        low, high = int(column.minimum), int(column.maximum)  # type: ignore[arg-type]
        pattern = integer_pattern(column)
        if not column.required:  # blank (spaces) is no value: a guest
            pattern = anchored(f" *|{pattern[1:-1]}")
        return {"anyOf": [{"type": "integer", "minimum": low, "maximum": high},
                          {"type": "string", "maxLength": MAX_NUMBER_TEXT, "pattern": pattern}, *optional]}
    if column.type == "decimal":
        scale, bound = column.scale or 0, largest_float(Decimal(column.maximum or 0))
        return {"anyOf": [{"type": "number", "minimum": -bound, "maximum": bound,
                           "multipleOf": float(Decimal(1).scaleb(-scale))},
                          {"type": "string", "maxLength": MAX_NUMBER_TEXT, "pattern": decimal_pattern(column)},
                          *optional]}
    if column.type == "timestamp":
        first, last = window.earliest.date(), (window.latest - timedelta(days=1)).date()
        if window.earliest.time() != time(0):
            first += timedelta(days=1)
        days = invoice_date_pattern(first, last, kaggle=date_format == DEFAULT_DATE_FORMAT)
        return {"type": "string", "maxLength": column.max_length, "pattern": anchored(f" *(?:{days[1:-1]}) *"),
                "examples": ["12/1/2010 8:26" if date_format == DEFAULT_DATE_FORMAT else "2010-12-01T08:26:00",
                             "2010-12-01T08:26:00Z"]}
    string: dict[str, Any] = {"type": "string", "pattern": required_text() if column.required else optional_text()}
    if column.max_length is not None:
        string["maxLength"] = column.max_length
    low, high = whole_number_bounds(column)
    whole = {"type": "integer", "minimum": low, "maximum": high}  # an invoice number sent as 536365 is its digits
    return {"anyOf": [string, whole, *optional]}


def largest_float(bound: Decimal) -> float:
    """The largest float <= bound: JSON Schema tools read bounds as floats, and 999,999,999,999,999.999 is
    not one (it would round up to 10^15, which the API refuses)."""
    value = float(bound)
    return math.nextafter(value, 0.0) if Decimal(value) > bound else value


class RecordError(BaseModel):
    index: int = Field(description="0-based position of the record in the request.")
    line: int | None = Field(default=None, description="NDJSON line number, when the body was NDJSON.")
    reason: str = Field(description="The dead-letter reason code, e.g. invalid:Quantity.")
    errors: list[dict[str, Any]]


class IngestResult(BaseModel):
    accepted: int = Field(description="Records durably written to the event log.")
    rejected: int = Field(description="Records written to the dead-letter log instead.")
    event_ids: list[str] = Field(description="Event ids of the accepted records, in request order.")
    errors: list[RecordError]


class ErrorBody(BaseModel):
    error: str = Field(description="A stable code: unauthorized, payload_too_large, not_found, ...")
    message: str = Field(description="What went wrong and what to do next.")


class Totals(BaseModel):
    lines: int
    items: int = Field(description="Sum of quantities.")
    gross_amount: str
    return_amount: str
    net_amount: str


class Item(BaseModel):
    stock_code: str
    line_id: str
    description: str | None
    quantity: int
    unit_price: str
    gross_amount: str
    return_amount: str
    net_amount: str
    event_id: str | None
    source: str


class InvoiceOut(BaseModel):
    invoice_no: str
    customer_id: str
    country: str | None
    invoice_ts: str
    line_type: str
    currency: str
    totals: Totals
    items: list[Item]


class InvoiceRow(BaseModel):
    invoice_no: str
    invoice_ts: str
    country: str | None
    line_type: str
    currency: str
    lines: int
    items: int
    gross_amount: str
    return_amount: str
    net_amount: str
    href: str


class CustomerTotalsOut(BaseModel):
    invoices: int
    lines: int
    items: int
    gross_amount: str
    return_amount: str
    net_amount: str
    first_invoice_ts: str
    last_invoice_ts: str


class CustomerInvoicesOut(BaseModel):
    customer_id: str
    totals: CustomerTotalsOut
    invoices: list[InvoiceRow]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")
    next: str | None = Field(description="The next page's URL; null on the last page.")


def money(value: Any) -> str:
    return f"{value:.3f}"


def invoice_out(inv: Invoice) -> dict[str, Any]:
    s = inv.summary
    return {"invoice_no": s.invoice_no, "customer_id": s.customer_id, "country": s.country,
            "invoice_ts": s.invoice_ts.isoformat(), "line_type": s.line_type, "currency": s.currency,
            "totals": _totals(s), "items": [_item(i) for i in inv.items]}


def _totals(s: InvoiceSummary) -> dict[str, Any]:
    return {"lines": s.lines, "items": s.items, "gross_amount": money(s.gross_amount),
            "return_amount": money(s.return_amount), "net_amount": money(s.net_amount)}


def _item(i: ServingLine) -> dict[str, Any]:
    return {"stock_code": i.stock_code, "line_id": i.line_id, "description": i.description, "quantity": i.quantity,
            "unit_price": str(i.unit_price), "gross_amount": money(i.gross_amount),
            "return_amount": money(i.return_amount), "net_amount": money(i.net_amount), "event_id": i.event_id,
            "source": i.source}


def customer_out(page: CustomerPage, next_url: str | None) -> dict[str, Any]:
    t = page.totals
    return {
        "customer_id": page.customer_id,
        "totals": {"invoices": t.invoices, "lines": t.lines, "items": t.items,
                   "gross_amount": money(t.gross_amount), "return_amount": money(t.return_amount),
                   "net_amount": money(t.net_amount), "first_invoice_ts": t.first_invoice_ts.isoformat(),
                   "last_invoice_ts": t.last_invoice_ts.isoformat()},
        "invoices": [{"invoice_no": s.invoice_no, "invoice_ts": s.invoice_ts.isoformat(), "country": s.country,
                      "line_type": s.line_type, "currency": s.currency, "href": f"/v1/invoices/{quote(s.invoice_no, safe='')}",
                      **_totals(s)} for s in page.invoices],
        "next_cursor": page.next_cursor,
        "next": next_url,
    }
