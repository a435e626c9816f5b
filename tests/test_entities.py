"""The entity contracts: one definition per entity, and the value checks derived from it."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cartflow.config import parse_config
from cartflow.entities import ENTITIES, ENTITY_NAMES, ORDER_LINES, DateWindow, entity
from cartflow.entities.values import check_decimal, check_instant, check_integer, check_text, parse_whole


def test_every_entity_has_a_key_required_columns_and_unique_spellings() -> None:
    for e in ENTITIES.values():
        assert e.key and set(e.key) <= set(e.column_names), e.name
        assert e.required_columns, e.name
        spellings = [s for c in e.columns for s in c.spellings()]
        owners = {s: [c.name for c in e.columns if s in c.spellings()] for s in spellings}
        assert all(len(v) == 1 for v in owners.values()), (e.name, {k: v for k, v in owners.items() if len(v) > 1})
        assert len(set(e.reason_codes())) == len(e.reason_codes()), e.name


def test_config_entities_come_from_the_contracts() -> None:
    for name in ENTITY_NAMES:
        config = parse_config({"sources": {"s": {"kind": "files", "path": "x", "entity": name}}})
        assert config.sources["s"].entity == name
    with pytest.raises(Exception, match="orders"):
        parse_config({"sources": {"s": {"kind": "files", "path": "x", "entity": "orders"}}})
    with pytest.raises(KeyError, match="known: order_lines"):
        entity("orders")


@pytest.mark.parametrize("text, ok", [
    ("6", True), ("-6", True), ("6.0", True), ("+6", True), ("2147483647", True), ("2147483648", False),
    ("-2147483649", False), ("10000000000000000000", False), ("1.5", False), ("abc", False), ("9" * 4301, False),
    ("", False), ("1e3", False),
])
def test_quantity_is_a_whole_number_that_fits_the_silver_type(text: str, ok: bool) -> None:
    assert (check_integer(ORDER_LINES.column("quantity"), text) is None) is ok


@pytest.mark.parametrize("text, ok", [
    ("2.55", True), ("0.001", True), ("-11062.06", True), ("999999999999999.999", True),
    ("1000000000000000", False), ("1E+25", False), ("2.5555", False), ("NaN", False), ("Infinity", False),
    ("4,25", False),
])
def test_unit_price_fits_decimal_18_3(text: str, ok: bool) -> None:
    assert (check_decimal(ORDER_LINES.column("unit_price"), text) is None) is ok


def test_customer_ids_are_positive_and_fit_int64() -> None:
    column = ORDER_LINES.column("customer_id")
    assert check_integer(column, "17850") is None and check_integer(column, "17850.0") is None
    assert check_integer(column, "9223372036854775807") is None
    assert check_integer(column, "9" * 20) is not None
    assert check_integer(column, "0") is not None and check_integer(column, "-3") is not None
    assert parse_whole("17850.000") == 17850


def test_the_date_window_is_configurable_and_fixed_once() -> None:
    now = datetime(2026, 12, 4, 12, 0)
    window = parse_config({"contract": {"earliest_date": "2000-01-01", "future_days": 1}}).contract.window(now)
    assert window == DateWindow(datetime(2000, 1, 1), datetime(2026, 12, 5, 12, 0))
    assert check_instant(window, datetime(2010, 12, 1, 8, 26)) is None
    assert check_instant(window, datetime(9999, 12, 31, 23, 59)) is not None
    assert check_instant(window, date(1999, 12, 31)) is not None
    default = parse_config({}).contract.window(now)
    assert default.earliest == datetime(1990, 1, 1) and default.latest == datetime(2026, 12, 6, 12, 0)


def test_text_limits_and_nul() -> None:
    assert check_text(ORDER_LINES.column("invoice_no"), "5" * 32) is None
    assert check_text(ORDER_LINES.column("invoice_no"), "5" * 33) is not None
    assert check_text(ORDER_LINES.column("country"), "United\x00Kingdom") is not None
    assert check_decimal(ORDER_LINES.column("unit_price"), "1" * 65) is not None


@pytest.mark.parametrize("text", ["١٢", "1E+2", "1e3", "12\u0663", "0x10", "1_000"])
def test_numbers_are_ascii_digits_only(text: str) -> None:
    assert check_integer(ORDER_LINES.column("quantity"), text) is not None
    assert check_decimal(ORDER_LINES.column("unit_price"), text) is not None


def test_text_length_is_measured_after_trimming() -> None:
    assert check_text(ORDER_LINES.column("invoice_no"), "  " + "5" * 32 + "  ") is None


def test_scientific_notation_is_a_column_choice() -> None:
    from cartflow.entities import EXCHANGE_RATES

    assert check_decimal(ORDER_LINES.column("unit_price"), "1E+2") is not None
    assert check_decimal(EXCHANGE_RATES.column("exchange_rate"), "1.2e-05") is None
