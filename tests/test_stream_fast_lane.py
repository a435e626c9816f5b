"""The API's fast lane accepts exactly what `validate()` accepts, with the same canonical values and bytes.

`fast_values` (stream/fast_lane.py) either returns the values `validate()` would return
without any error, or defers (None) to `validate()`: it must never accept a record
`validate()` rejects, nor write another text for a value. Hypothesis draws records whose
every field is a common shape, an edge of the contract's bounds, or a hostile value, and
compares the two; the event's JSON is compared with the `json.dumps` it replaces. The fast
lane must also take the common case itself (else it would be a slow lane in disguise).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from cartflow.entities import INT32_MAX, INT32_MIN, INT64_MAX, DateWindow
from cartflow.stream.body import loads, split_body
from cartflow.stream.fast_lane import checks_for, encode_event, fast_values
from cartflow.stream.records import (
    ALLOWED,
    COLUMNS,
    DEFAULT_DATE_FORMAT,
    FIELDS,
    derive_event_id,
    parse_records,
    validate,
)

NOW = datetime(2026, 6, 1, 12, 0)
WINDOW = DateWindow(datetime(1990, 1, 1), NOW + timedelta(days=2))
CHECKS = checks_for(COLUMNS, WINDOW, kaggle_dates=True)
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
EDGES = [0, 1, -1, INT32_MAX, INT32_MAX + 1, INT32_MIN, INT32_MIN - 1, INT64_MAX, INT64_MAX + 1, 10**15, -(10**15),
         10**15 - 1, 10**18, int("9" * 19), int("9" * 70)]
DECIMALS = ["2.55", "0.001", "0.0005", "-0.0", "2.5500", "1E+2", "1E-3", "1E+20", "999999999999999.999",
            "1000000000000000", "-999999999999999.999", "12345678901234567.5", "0.1234", "5", "1" + "0" * 70]
NUMBER_TEXTS = ["3", "-3", "+3", " 3", "3 ", "007", "3.0", "3.", ".5", "2.55", "2.555", "2.5555", "1e3", "١٢", "",
                "   ", "17850", "-0", "9" * 19, "9" * 18, "999999999999999.999", "1000000000000000", "0x1F", "3,5"]
DATES = ["12/1/2010 8:26", "01/02/2011 09:05", "2/29/2012 10:00", "2/29/2011 10:00", "13/1/2010 8:26",
         "12/1/2010 24:00", "12/1/2010 8:60", "12/32/2010 8:26", " 12/1/2010 8:26", "12/1/2010 8:26 ", "1/1/1989 0:00",
         "1/1/1990 0:00", f"{NOW.month}/{NOW.day + 2}/{NOW.year} 11:59", f"{NOW.month}/{NOW.day + 3}/{NOW.year} 0:00",
         "2010-12-01T08:26:00", "2010-12-01", "12/1/2010 8:26\x00", "１2/1/2010 8:26", "12/1/10 8:26"]


def values_of(kind: str) -> st.SearchStrategy[Any]:
    """Common shapes, bound edges and hostile values; no Decimal NaN (JSON has none) and none past 10^20
    (validate() itself raises on a JSON number of more than 28 digits with more than 3 decimals)."""
    common = {
        "text": st.one_of(TEXT, st.sampled_from(["536365", "85123A", " ", "", "x" * 32, "x" * 33, "a\x00b",
                                                 "C536379", "WHITE HANGING HEART", "é" * 100, "é" * 101])),
        "int": st.one_of(st.sampled_from(EDGES), st.integers(-(10**20), 10**20), st.sampled_from(NUMBER_TEXTS)),
        "dec": st.one_of(st.sampled_from([Decimal(d) for d in DECIMALS]), st.sampled_from(EDGES),
                         st.decimals(allow_nan=False, allow_infinity=False).filter(lambda d: abs(d) < 10**20),
                         st.sampled_from(NUMBER_TEXTS)),
        "date": st.one_of(st.sampled_from(DATES), TEXT),
    }[kind]
    hostile = st.one_of(st.none(), st.booleans(), st.floats(), st.just([]), st.just({"a": 1}), st.integers(),
                        st.decimals(allow_nan=False, allow_infinity=False).filter(lambda d: abs(d) < 10**20), TEXT)
    return st.one_of(common, common, common, hostile)


FIELD_KINDS = {"InvoiceNo": "text", "StockCode": "text", "Description": "text", "Quantity": "int",
               "InvoiceDate": "date", "UnitPrice": "dec", "CustomerID": "int", "Country": "text"}


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, kind in FIELD_KINDS.items():
        if draw(st.integers(0, 9)) > 0:  # now and then a field is absent
            record[name] = draw(values_of(kind))
    choice = draw(st.integers(0, 9))
    if choice == 0:
        record["event_id"] = draw(st.one_of(st.sampled_from(["shop-1:1", "", "a" * 128, "a" * 129, "no spaces",
                                                              "ol-abc"]), TEXT, st.integers(), st.none()))
    elif choice == 1:
        record[draw(st.sampled_from(["invoiceno", "Extra", "event id"]))] = draw(TEXT)
    return record


def fast(record: Any) -> dict[str, str | None] | None:
    assert CHECKS is not None
    return fast_values(record, CHECKS, ALLOWED, "Quantity", "UnitPrice", FIELDS)


@seed(20261204)
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_the_fast_lane_accepts_only_what_validate_accepts_with_the_same_values(record: dict[str, Any]) -> None:
    values, errors = validate(record, DEFAULT_DATE_FORMAT, WINDOW)
    got = fast(record)
    if got is None:
        return  # deferred to validate(): always safe
    assert errors == [], f"the fast lane accepted what validate() rejects: {record!r} -> {errors}"
    event_id, body = encode_event(got, FIELDS)
    assert got == values and event_id == values["event_id"]
    expected = {"event_id": values["event_id"], **{f: values.get(f) for f in FIELDS}}
    assert body == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@seed(20261205)
@settings(max_examples=2000, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(st.characters(codec="utf-8"))), min_size=len(FIELDS),
                max_size=len(FIELDS)), st.text(st.characters(codec="utf-8"), min_size=1))
def test_event_json_and_derived_ids_are_the_bytes_json_dumps_writes(texts: list[str | None], event_id: str) -> None:
    """Any text at all (quotes, backslashes, control characters, U+2028, astral planes) encodes the same."""
    values = dict(zip(FIELDS, texts, strict=False))
    payload = json.dumps(texts, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    derived = "ol-" + hashlib.sha256(payload).hexdigest()[:32]
    assert derive_event_id(values) == derived
    assert encode_event(dict(values), FIELDS)[0] == derived
    _, body = encode_event({**values, "event_id": event_id}, FIELDS)
    expected = {"event_id": event_id, **values}
    assert body == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_storefront_lines_take_the_fast_lane(tmp_path: Path) -> None:
    """Generated Online Retail lines as `cartflow send` posts them: every valid one is decided by the fast lane."""
    from cartflow.sandbox.retail_generator import generate_online_retail
    from cartflow.stream.send import csv_records

    generate_online_retail(tmp_path, 0.01, 7)
    csv = next(tmp_path.glob("*.csv"))
    sent = list(csv_records(csv))[:3000]
    items = [item for _, item in split_body(json.dumps(sent).encode("utf-8"), "application/json")]
    decided = [fast(item) for item in items]
    parsed = parse_records([(None, item) for item in items], DEFAULT_DATE_FORMAT, WINDOW)
    accepted = {e.event_id for e in parsed.events}
    fast_ids = {v["event_id"] or derive_event_id(v) for v in decided if v is not None}
    assert len(accepted) > 2500 and fast_ids == accepted  # every accepted line came through the fast lane


def test_json_numbers_are_read_exactly_before_the_fast_lane() -> None:
    """A price sent as a JSON number keeps its digits: 2.550 stays 2.550, as validate() writes it."""
    item = loads('{"InvoiceNo":"1","StockCode":"A","Quantity":1,"InvoiceDate":"12/1/2010 8:26","UnitPrice":2.550}')
    assert fast(item)["UnitPrice"] == validate(item, DEFAULT_DATE_FORMAT, WINDOW)[0]["UnitPrice"] == "2.550"
