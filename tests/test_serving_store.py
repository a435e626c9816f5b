"""The serving store, on SQLite and on the real PostgreSQL: access patterns, idempotence, money."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pytest

from cartflow.serving.postgres_store import PostgresStore
from cartflow.serving.refresh import refresh_from_gold
from cartflow.serving.sqlite_store import SqliteStore
from cartflow.serving.store import CursorError, ServingStore
from cartflow.stream.records import parse_records, split_body
from cartflow.stream.serving_sink import line_from_event


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServingStore]:
    if request.param == "sqlite":
        s: ServingStore = SqliteStore(tmp_path / "serving.db")
    else:
        dsn = request.getfixturevalue("pg_dsn")
        s = PostgresStore(dsn, schema=request.getfixturevalue("pg_schema"))
    yield s
    s.close()


def lines(records: list[dict]) -> list:
    parsed = parse_records(split_body(json.dumps(records).encode(), "application/json"))
    assert not parsed.rejected, parsed.rejected
    return [line_from_event(e.value, currency="GBP", source="storefront") for e in parsed.events]


def rec(invoice: str, stock: str, qty: int, price: str, customer: int | None, when: str) -> dict:
    return {"InvoiceNo": invoice, "StockCode": stock, "Description": f"ITEM {stock}", "Quantity": qty,
            "InvoiceDate": when, "UnitPrice": price, "CustomerID": customer, "Country": "United Kingdom"}


def test_invoice_items_sorted_by_stock_code_with_exact_totals(store: ServingStore) -> None:
    store.upsert(lines([rec("536365", "85123A", 6, "2.55", 17850, "12/1/2010 8:26"),
                        rec("536365", "71053", 6, "3.39", 17850, "12/1/2010 8:26"),
                        rec("536365", "22752", 2, "7.65", 17850, "12/1/2010 8:26")]))
    inv = store.invoice("536365")
    assert [i.stock_code for i in inv.items] == ["22752", "71053", "85123A"]
    assert inv.summary.gross_amount == Decimal("15.300") + Decimal("20.340") + Decimal("15.300")
    assert inv.summary.lines == 3 and inv.summary.items == 14 and inv.summary.customer_id == "17850"
    assert store.invoice("999999") is None


def test_upserts_are_idempotent_by_event_id(store: ServingStore) -> None:
    batch = lines([rec("536365", "85123A", 6, "2.55", 17850, "12/1/2010 8:26")])
    store.upsert(batch)
    store.upsert(batch)
    store.upsert(batch + batch)
    assert store.count_lines() == 1
    page = store.customer_invoices("17850")
    assert page.totals.invoices == 1 and page.totals.lines == 1


def test_customer_invoices_newest_first_paginated_with_totals(store: ServingStore) -> None:
    records = [rec(str(540000 + i), "22633", 1 + i, "1.85", 13047, f"1/{1 + i}/2011 10:00") for i in range(7)]
    records.append(rec("C540100", "22633", -2, "1.85", 13047, "1/20/2011 10:00"))
    store.upsert(lines(records))
    seen, cursor = [], None
    while True:
        page = store.customer_invoices("13047", limit=3, cursor=cursor)
        seen += [s.invoice_no for s in page.invoices]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == ["C540100"] + [str(540000 + i) for i in reversed(range(7))]
    t = page.totals
    assert t.invoices == 8 and t.items == sum(range(1, 8)) - 2
    assert t.gross_amount == Decimal("1.85") * sum(range(1, 8))
    assert t.return_amount == Decimal("3.700") and t.net_amount == t.gross_amount - Decimal("3.700")
    assert t.last_invoice_ts == datetime(2011, 1, 20, 10, 0)
    with pytest.raises(CursorError, match="next_cursor"):
        store.customer_invoices("13047", cursor="garbage")


def test_the_unknown_customer_is_a_real_key(store: ServingStore) -> None:
    store.upsert(lines([rec("536414", "22139", 56, "0", None, "12/1/2010 11:52"),
                        rec("536544", "21773", 1, "2.51", None, "12/1/2010 14:32")]))
    page = store.customer_invoices("unknown")
    assert [s.invoice_no for s in page.invoices] == ["536544", "536414"]
    assert page.totals.gross_amount == Decimal("2.510")  # a zero-price line counts in no amount
    assert store.customer_invoices("17850") is None


def test_refresh_from_gold_agrees_with_the_stream(store: ServingStore) -> None:
    streamed = lines([rec("536365", "85123A", 6, "2.55", 17850, "12/1/2010 8:26")])[0]
    store.upsert([streamed])
    gold = pa.table({
        "order_line_id": ["aaa", "bbb"],
        "event_id": [streamed.event_id, None],
        "invoice_no": ["536365", "536366"], "line_type": ["sale", "sale"], "stock_code": ["85123A", "22633"],
        "description": ["WHITE HANGING HEART", "HAND WARMER"], "customer_id": ["17850", "unknown"],
        "country": ["United Kingdom", "United Kingdom"],
        "invoice_ts": [datetime(2010, 12, 1, 8, 26), datetime(2010, 12, 1, 8, 28)],
        "quantity": pa.array([6, 6], pa.int32()),
        "unit_price": pa.array([Decimal("2.550"), Decimal("1.850")], pa.decimal128(18, 3)),
        "gross_amount": pa.array([Decimal("15.300"), Decimal("11.100")], pa.decimal128(18, 3)),
        "return_amount": pa.array([Decimal("0"), Decimal("0")], pa.decimal128(18, 3)),
        "net_amount": pa.array([Decimal("15.300"), Decimal("11.100")], pa.decimal128(18, 3)),
        "currency": ["GBP", "GBP"], "source": ["storefront", "online_retail"],
    })
    assert refresh_from_gold(store, gold) == 2
    assert refresh_from_gold(store, gold) == 2  # a re-publish changes nothing
    assert store.count_lines() == 2  # the streamed line was not doubled by its batch copy
    inv = store.invoice("536365")
    assert inv.items[0].line_id == streamed.event_id and inv.items[0].description == "WHITE HANGING HEART"
    assert inv.summary.net_amount == Decimal("15.300")
    assert store.invoice("536366").items[0].line_id == "bbb"
    assert store.customer_invoices("unknown").totals.net_amount == Decimal("11.100")
