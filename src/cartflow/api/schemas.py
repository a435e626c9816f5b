"""Request and response shapes, for the OpenAPI document and for clients.

Money is a decimal string ("15.300"): JSON numbers are floats in most clients, and an
amount must never pass through a float. Timestamps are ISO 8601 without a zone, as the
source's invoice times are (shop-local time).
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from cartflow.serving.store import CustomerPage, Invoice, InvoiceSummary, ServingLine


class OrderLineIn(BaseModel):
    """One order line as the storefront sends it (the Online Retail fields)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "InvoiceNo": "536365", "StockCode": "85123A", "Description": "WHITE HANGING HEART T-LIGHT HOLDER",
        "Quantity": 6, "InvoiceDate": "12/1/2010 8:26", "UnitPrice": 2.55, "CustomerID": 17850,
        "Country": "United Kingdom"}})

    InvoiceNo: str = Field(description="Invoice number; 'C' prefix = cancellation, 'A' = adjustment. Partition key.")
    StockCode: str
    Description: Optional[str] = None
    Quantity: int | str = Field(description="Whole number; negative on cancellations.")
    InvoiceDate: str = Field(description="'12/1/2010 8:26' (the [stream] invoice_date_format) or ISO 8601.")
    UnitPrice: float | str = Field(description="Decimal, at most 3 places; send a string to keep it exact.")
    CustomerID: Optional[int | str] = Field(default=None, description="Absent or null for a guest ('unknown').")
    Country: Optional[str] = None
    event_id: Optional[str] = Field(default=None, description="Idempotency key; derived from the content when absent.")


class RecordError(BaseModel):
    index: int = Field(description="0-based position of the record in the request.")
    line: Optional[int] = Field(default=None, description="NDJSON line number, when the body was NDJSON.")
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
    description: Optional[str]
    quantity: int
    unit_price: str
    gross_amount: str
    return_amount: str
    net_amount: str
    event_id: Optional[str]
    source: str


class InvoiceOut(BaseModel):
    invoice_no: str
    customer_id: str
    country: Optional[str]
    invoice_ts: str
    line_type: str
    currency: str
    totals: Totals
    items: list[Item]


class InvoiceRow(BaseModel):
    invoice_no: str
    invoice_ts: str
    country: Optional[str]
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
    next_cursor: Optional[str] = Field(description="Pass as ?cursor= for the next page; null on the last page.")
    next: Optional[str] = Field(description="The next page's URL; null on the last page.")


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
