"""Record validation: clear per-field errors, canonical events, deterministic event ids."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from cartflow.stream.records import BodyError, parse_invoice_date, parse_records, split_body

GOOD = {"InvoiceNo": "536365", "StockCode": "85123A", "Description": "WHITE HANGING HEART T-LIGHT HOLDER",
        "Quantity": 6, "InvoiceDate": "12/1/2010 8:26", "UnitPrice": 2.55, "CustomerID": 17850,
        "Country": "United Kingdom"}


def parse(body: bytes, content_type: str = "application/json"):
    return parse_records(split_body(body, content_type))


def test_accepted_record_becomes_canonical_text_event_keyed_by_invoice() -> None:
    parsed = parse(json.dumps([GOOD]).encode())
    assert not parsed.rejected
    event = parsed.events[0]
    assert event.key == b"536365"
    value = json.loads(event.value)
    assert value["Quantity"] == "6" and value["UnitPrice"] == "2.55" and value["CustomerID"] == "17850"
    assert value["event_id"] == event.event_id and event.event_id.startswith("ol-")


def test_event_id_is_derived_from_content_so_a_retry_is_the_same_event() -> None:
    as_numbers = parse(json.dumps([GOOD]).encode()).events[0]
    as_strings = parse(json.dumps([{**GOOD, "Quantity": "6", "UnitPrice": "2.55", "CustomerID": "17850"}])
                       .encode()).events[0]
    other = parse(json.dumps([{**GOOD, "Quantity": 7}]).encode()).events[0]
    assert as_numbers.event_id == as_strings.event_id != other.event_id
    explicit = parse(json.dumps([{**GOOD, "event_id": "shop-1:42"}]).encode()).events[0]
    assert explicit.event_id == "shop-1:42"


def test_price_keeps_its_exact_decimal_text() -> None:
    body = b'[{"InvoiceNo":"1","StockCode":"X","Quantity":1,"InvoiceDate":"12/1/2010 8:26","UnitPrice":0.1}]'
    assert json.loads(parse(body).events[0].value)["UnitPrice"] == "0.1"
    assert Decimal("0.1") == Decimal(json.loads(parse(body).events[0].value)["UnitPrice"])


@pytest.mark.parametrize("change, reason", [
    ({"Quantity": "six"}, "invalid:Quantity"),
    ({"Quantity": 1.5}, "invalid:Quantity"),
    ({"Quantity": None}, "missing_field:Quantity"),
    ({"InvoiceNo": "  "}, "missing_field:InvoiceNo"),
    ({"UnitPrice": "2,55"}, "invalid:UnitPrice"),
    ({"UnitPrice": "2.5555"}, "invalid:UnitPrice"),
    ({"InvoiceDate": "yesterday"}, "invalid:InvoiceDate"),
    ({"CustomerID": "abc"}, "invalid:CustomerID"),
    ({"Quantiy": 6}, "unknown_field:Quantiy"),
    ({"event_id": "has space"}, "invalid:event_id"),
    ({"StockCode": "X" * 40}, "too_long:StockCode"),
])
def test_bad_fields_are_rejected_with_a_reason_per_field(change: dict, reason: str) -> None:
    parsed = parse(json.dumps([{**GOOD, **change}]).encode())
    assert not parsed.events
    rejected = parsed.rejected[0]
    assert rejected.reason == reason
    assert rejected.errors[0]["message"]


def test_valid_records_of_a_request_are_accepted_beside_invalid_ones() -> None:
    body = json.dumps([GOOD, {**GOOD, "Quantity": "x"}, "not an object", {**GOOD, "StockCode": "22633"}]).encode()
    parsed = parse(body)
    assert len(parsed.events) == 2
    assert [(r.index, r.reason) for r in parsed.rejected] == [(1, "invalid:Quantity"), (2, "not_an_object")]


def test_ndjson_with_a_malformed_line_keeps_the_other_lines() -> None:
    body = (json.dumps(GOOD) + "\n{broken\n\n" + json.dumps({**GOOD, "StockCode": "22633"}) + "\n").encode()
    parsed = parse(body, "application/x-ndjson")
    assert len(parsed.events) == 2
    assert parsed.rejected[0].reason == "malformed_json" and parsed.rejected[0].line == 2


def test_guest_lines_and_iso_dates_are_valid() -> None:
    parsed = parse(json.dumps([{**GOOD, "CustomerID": None, "InvoiceDate": "2010-12-01T08:26:00Z"},
                               {**GOOD, "CustomerID": "", "Description": None}]).encode())
    assert len(parsed.events) == 2 and not parsed.rejected
    assert parse_invoice_date("2010-12-01T09:26:00+01:00").isoformat() == "2010-12-01T08:26:00"


def test_unreadable_bodies_get_one_clear_error() -> None:
    with pytest.raises(BodyError, match="not valid JSON"):
        split_body(b'[{"InvoiceNo": 1,', "application/json")
    with pytest.raises(BodyError, match="empty"):
        split_body(b"  ", "application/json")
    with pytest.raises(BodyError, match="UTF-8"):
        split_body('[{"Description": "£"}]'.encode("latin-1"), "application/json")
