"""The SQL-rendered invoice document equals the response model's, field for field."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from cartflow.api.schemas import InvoiceOut, invoice_out
from cartflow.serving.documents import money_text
from cartflow.serving.sqlite_store import SqliteStore
from cartflow.serving.store import ServingLine, amounts


def line(line_id: str, invoice: str, stock: str, qty: int, price: str, *, customer: str = "17850",
         country: str | None = "United Kingdom", description: str | None = "WHITE MUG", when: str = "2010-12-01T08:26:00",
         event_id: str | None = None) -> ServingLine:
    line_type = "cancellation" if invoice.startswith("C") else "sale"
    gross, ret, net = amounts(line_type, qty, Decimal(price))
    return ServingLine(line_id=line_id, invoice_no=invoice, stock_code=stock, description=description, quantity=qty,
                       unit_price=Decimal(price), invoice_ts=datetime.fromisoformat(when), customer_id=customer,
                       country=country, line_type=line_type, gross_amount=gross, return_amount=ret, net_amount=net,
                       currency="GBP", source="storefront", event_id=event_id)


def expected(store: SqliteStore, invoice_no: str) -> dict:
    return json.loads(InvoiceOut.model_validate(invoice_out(store.invoice(invoice_no))).model_dump_json())


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "serving.db")
    s.upsert([
        line("a1", "536365", "85123A", 6, "2.55", event_id="ev-1"),
        line("a2", "536365", "71053", 6, "3.39", country=None, when="2010-12-01T08:25:00"),
        line("a3", "536365", "22752", 2, "7.65", description=None),
        line("b1", "C536379", "D", -1, "27.50", customer="unknown", country=""),
        line("b2", "C536379", "22556", -12, "1.650", country="France", description='say "hi" \\ naïve ☕'),
        line("c1", "537000", "POST", 1, "0.001", when="2011-01-01T00:00:00"),
        line("d1", "540000", "M", 100000, "38970.00"),
        line("e1", "550000", "B", 1, "-11062.06"),
    ])
    yield s
    s.close()


@pytest.mark.parametrize("invoice_no", ["536365", "C536379", "537000", "540000", "550000"])
def test_document_is_the_response_model_document(store: SqliteStore, invoice_no: str) -> None:
    document = store.invoice_json(invoice_no)
    assert document is not None
    assert json.loads(document) == expected(store, invoice_no)


def test_header_takes_first_item_fields_earliest_time_and_first_non_empty_country(store: SqliteStore) -> None:
    cancelled = json.loads(store.invoice_json("C536379"))
    assert [i["stock_code"] for i in cancelled["items"]] == ["22556", "D"]
    assert cancelled["country"] == "France" and cancelled["customer_id"] == "17850"  # of item 22556
    assert cancelled["totals"]["return_amount"] == "47.300" and cancelled["totals"]["net_amount"] == "-47.300"
    sale = json.loads(store.invoice_json("536365"))
    assert sale["invoice_ts"] == "2010-12-01T08:25:00" and sale["totals"]["items"] == 14


def test_unknown_invoice_has_no_document(store: SqliteStore) -> None:
    assert store.invoice_json("999999") is None


@pytest.mark.parametrize("milli", [0, 1, -1, 999, -1000, 1670850, -4730000, 10**15 + 7])
def test_money_text_matches_decimal_formatting(milli: int) -> None:
    assert money_text(milli) == f"{Decimal(milli).scaleb(-3):.3f}"
