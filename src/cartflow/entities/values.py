"""The value contract in Python: what the API checks before it acknowledges a record.

Silver applies the same bounds in SQL (macros generated from the same `Column`s), so a
value the API would reject is quarantined when it arrives by a file, and no kept row can
fail a gold audit or overflow a sink.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from cartflow.entities.contract import Column

_WHOLE = re.compile(r"^[+-]?[0-9]+(\.0*)?$")
_DECIMAL = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_SCIENTIFIC = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
"""ASCII digits only: `Decimal()` alone would also take "١٢" or "1E+25"."""
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
MAX_NUMBER_TEXT = 64
"""Longer number texts are rejected before parsing (a 4,300-digit integer is not a quantity)."""


@dataclass(frozen=True)
class DateWindow:
    """Event times a record may carry: [earliest, latest]. `latest` is fixed once per run or request."""

    earliest: datetime
    latest: datetime

    @classmethod
    def from_config(cls, earliest: date, future_days: float, now: datetime | None = None) -> DateWindow:
        current = (now or datetime.now()).replace(tzinfo=None)
        return cls(datetime(earliest.year, earliest.month, earliest.day), current + timedelta(days=future_days))

    def admits(self, value: datetime | date) -> bool:
        instant = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        return self.earliest <= instant.replace(tzinfo=None) <= self.latest

    def describe(self) -> str:
        return f"{self.earliest:%Y-%m-%d} to {self.latest:%Y-%m-%d %H:%M}"


DEFAULT_EARLIEST = date(1990, 1, 1)
DEFAULT_FUTURE_DAYS = 2.0


def check_text(column: Column, text: str) -> str | None:
    """A problem with a text value (its length after trimming, a NUL, a currency's shape), or None."""
    if column.max_length is not None and len(text.strip()) > column.max_length:
        return f"at most {column.max_length} characters"
    if "\x00" in text:
        return "contains a NUL character"
    if column.type == "currency" and not _CURRENCY.match(text.strip()):
        return "a three-letter currency code such as GBP"
    return None


def parse_whole(text: str) -> int | None:
    """`'3'`, `'+3'`, `'3.0'` -> 3; anything else (fractions, words, huge texts) -> None."""
    stripped = text.strip()
    if len(stripped) > MAX_NUMBER_TEXT or not _WHOLE.match(stripped):
        return None
    return int(Decimal(stripped))


def check_integer(column: Column, text: str) -> str | None:
    value = parse_whole(text)
    if value is None:
        return "must be a whole number"
    return _bounds(column, value)


def parse_decimal(text: str, scientific: bool = False) -> Decimal | None:
    stripped = text.strip()
    if len(stripped) > MAX_NUMBER_TEXT or not (_SCIENTIFIC if scientific else _DECIMAL).match(stripped):
        return None
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def check_decimal(column: Column, text: str) -> str | None:
    value = parse_decimal(text, column.scientific)
    if value is None:
        return "must be a decimal number such as 2.55"
    exponent = value.as_tuple().exponent
    if column.scale is not None and isinstance(exponent, int) and exponent < -column.scale:
        return f"at most {column.scale} decimal places"
    return _bounds(column, value)


def check_instant(window: DateWindow, value: datetime | date) -> str | None:
    if not window.admits(value):
        return f"outside the accepted dates ({window.describe()})"
    return None


def _bounds(column: Column, value: int | Decimal) -> str | None:
    low, high = column.minimum, column.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        return f"out of range (from {low:,} to {high:,})" if low is not None and high is not None else "out of range"
    return None


def fits_money(value: Decimal) -> bool:
    """A DECIMAL(18, 3) value: 15 digits before the point at most."""
    return abs(value) < Decimal(10) ** 15
