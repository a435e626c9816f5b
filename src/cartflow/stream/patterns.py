"""The order-line contract as regular expressions: the value shapes the API accepts, spelled once.

`validate()` (records.py) checks a value's shape with the generic patterns here, then its
bounds with the contract's `Column`s; the OpenAPI document publishes the *exact* patterns
built here from the same `Column`s (an integer range, a money amount, the date window),
so a value the document admits is one the API accepts. tests/test_api_contract.py checks
the two against each other on generated values.

Every pattern is valid in both ECMA 262 (what OpenAPI tools read) and Python: explicit
classes (`[0-9]`, never `\\d` or `\\s`, which mean other characters in each), anchored
`^...$`, and matched by the server with `fullmatch` (so `$` never admits a trailing newline).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from cartflow.entities import Column

WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""Python's whitespace (`str.isspace`, what `strip()` removes), as a class body."""

WHOLE = re.compile(r" *[+-]?[0-9]+(\.0*)? *")
"""A whole number as text: ASCII digits, optional sign, `.0`, spaces around (silver trims spaces)."""
DECIMAL = re.compile(r" *[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+) *")
"""A decimal as text: plain digits (no exponent: `1E+2` is for JSON numbers), spaces around."""
BLANK = re.compile(r" *")
"""An optional number that is blank: spaces only, what silver's TRIM turns into NULL."""
ISO_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
                       r"(Z|[+-][0-9]{2}:[0-9]{2})?)?")
"""The ISO 8601 forms accepted: a date, or a date and time, with an optional zone (Z or +hh:mm)."""
KAGGLE_SHAPE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}) ([0-9]{1,2}):([0-9]{2})")
"""The default invoice_date_format, `%-m/%-d/%Y %-H:%M` (a zero-padded number is read too)."""
EVENT_ID = r"[A-Za-z0-9._:@/+=-]{1,128}"


def anchored(body: str) -> str:
    return f"^(?:{body})$"


def required_text() -> str:
    """Some character that is not whitespace, and no NUL anywhere."""
    return anchored(rf"[^\x00]*[^\x00{WHITESPACE}][^\x00]*")


def optional_text() -> str:
    return anchored(r"[^\x00]*")


def integer_pattern(column: Column) -> str:
    """Exactly the whole-number texts `WHOLE` admits whose value lies in the column's bounds."""
    low, high = int(column.minimum), int(column.maximum)  # type: ignore[arg-type]
    parts = []
    if low <= 0 <= high:
        parts.append("[+-]?0+")
    if high >= 1:
        parts.append(rf"\+?0*(?:{'|'.join(numerals(max(low, 1), high))})")
    if low <= -1:
        parts.append(rf"-0*(?:{'|'.join(numerals(max(-high, 1), -low))})")
    return anchored(rf" *(?:{'|'.join(parts)})(?:\.0*)? *")


def decimal_pattern(column: Column) -> str:
    """Exactly the decimal texts `DECIMAL` admits with at most `scale` decimals within the column's bounds.

    Written for the bounds money has, +-(10^k - 10^-scale): at most k digits before the point.
    """
    scale = column.scale or 0
    high = column.maximum
    digits = len(str(int(high))) if high is not None else 0
    if (high is None or column.minimum != -high
            or Decimal(high) != Decimal(10) ** digits - Decimal(1).scaleb(-scale)):
        raise NotImplementedError(f"{column.name}: no pattern for bounds {column.minimum}..{high}; "
                                  "extend decimal_pattern")
    fraction = rf"\.[0-9]{{0,{scale}}}" if scale else r"\.?"
    return anchored(rf" *[+-]?(?:0*[0-9]{{1,{digits}}}(?:{fraction})?|\.[0-9]{{1,{max(scale, 1)}}}) *")


def numerals(low: int, high: int) -> list[str]:
    """Regex alternatives matching the decimal numerals (no leading zeros) of low..high, 0 <= low <= high."""
    out: list[str] = []
    for width in range(len(str(low)), len(str(high)) + 1):
        a = max(low, 10 ** (width - 1) if width > 1 else 0)
        b = min(high, 10**width - 1)
        if a <= b:
            out += _same_width(str(a), str(b))
    return out


def _same_width(a: str, b: str) -> list[str]:
    """Alternatives for the digit strings of one width from a to b (zeros allowed inside)."""
    if a == b:
        return [a]
    i = 0
    while a[i] == b[i]:
        i += 1
    prefix, a, b = a[:i], a[i:], b[i:]
    rest = len(a) - 1
    if rest == 0:
        return [f"{prefix}[{a}-{b}]"]
    out: list[str] = []
    first, last = int(a[0]), int(b[0])
    if a[1:] != "0" * rest:
        out += [prefix + a[0] + x for x in _same_width(a[1:], "9" * rest)]
        first += 1
    tail = b[1:] != "9" * rest
    if tail:
        last -= 1
    if first <= last:
        digit = str(first) if first == last else f"[{first}-{last}]"
        out.append(f"{prefix}{digit}[0-9]{{{rest}}}")
    if tail:
        out += [prefix + b[0] + x for x in _same_width("0" * rest, b[1:])]
    return out


MONTH_DAYS = {m: 31 for m in (1, 3, 5, 7, 8, 10, 12)} | {m: 30 for m in (4, 6, 9, 11)} | {2: 28}


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in(year: int, month: int) -> int:
    return 29 if month == 2 and _leap(year) else MONTH_DAYS[month]


def _spans(first: date, last: date) -> list[tuple[list[int], list[int], int, int]]:
    """(years, months, first day, last day) pieces that together are exactly the days first..last."""
    out: list[tuple[list[int], list[int], int, int]] = []

    def partial_year(year: int, start: date, end: date) -> None:
        for month in range(start.month, end.month + 1):
            d0 = start.day if month == start.month else 1
            d1 = end.day if month == end.month else _days_in(year, month)
            out.append(([year], [month], d0, d1))

    if first.year == last.year:
        partial_year(first.year, first, last)
        return out
    partial_year(first.year, first, date(first.year, 12, 31))
    middle = list(range(first.year + 1, last.year))
    for years in ([y for y in middle if not _leap(y)], [y for y in middle if _leap(y)]):
        if years:
            leap = _leap(years[0])
            for length in (31, 30, 29 if leap else 28):
                months = [m for m in range(1, 13) if _days_in(years[0], m) == length]
                out.append((years, months, 1, length))
    partial_year(last.year, date(last.year, 1, 1), last)
    return out


def _alternatives(values: list[str]) -> str:
    return values[0] if len(values) == 1 else f"(?:{'|'.join(values)})"


def _number(low: int, high: int, padded: bool) -> str:
    """Day numbers low..high: two digits (`07`, ISO), or one or two (`7` or `07`, the default format)."""
    if padded:
        return _alternatives(_same_width(f"{low:02d}", f"{high:02d}"))
    alts = [f"0?{x}" for x in numerals(low, min(high, 9))] if low <= 9 else []
    if high >= 10:
        alts += numerals(max(low, 10), high)
    return _alternatives(alts)


HOUR_ISO = "(?:[01][0-9]|2[0-3])"
MINUTE = "[0-5][0-9]"
ISO_TIME = rf"(?:[T ]{HOUR_ISO}:{MINUTE}(?::{MINUTE}(?:\.[0-9]{{1,6}})?)?)"
ISO_OFFSET = rf"[+-]{HOUR_ISO}:{MINUTE}"
KAGGLE_TIME = rf" (?:0?[0-9]|1[0-9]|2[0-3]):{MINUTE}"


def iso_dates(first: date, last: date) -> str:
    pieces = []
    for years, months, d0, d1 in _spans(first, last):
        month = _alternatives([f"{m:02d}" for m in months])
        pieces.append(f"{_alternatives([str(y) for y in years])}-{month}-{_number(d0, d1, padded=True)}")
    return _alternatives(pieces)


def kaggle_dates(first: date, last: date) -> str:
    pieces = []
    for years, months, d0, d1 in _spans(first, last):
        month = _alternatives([f"0?{m}" if m < 10 else str(m) for m in months])
        pieces.append(f"{month}/{_number(d0, d1, padded=False)}/{_alternatives([str(y) for y in years])}")
    return _alternatives(pieces)


def invoice_date_pattern(earliest: date, latest: date, kaggle: bool) -> str:
    """The InvoiceDate texts accepted whatever their time of day: whole days inside the window.

    `latest` is the last whole day the window admits (the document is built once a day, so
    it is conservative by up to a day); a zone offset moves an instant by less than a day,
    so times with an offset are documented one day inside each end.
    """
    naive = f"{iso_dates(earliest, latest)}(?:{ISO_TIME}Z?)?"
    parts = [naive]
    if latest - earliest >= timedelta(days=2):
        parts.append(f"{iso_dates(earliest + timedelta(days=1), latest - timedelta(days=1))}{ISO_TIME}{ISO_OFFSET}")
    if kaggle:
        parts.append(f"{kaggle_dates(earliest, latest)}{KAGGLE_TIME}")
    return anchored("|".join(parts))


def calendar_date() -> str:
    """Any real day as YYYY-MM-DD, years 0001-9999 (29 February in leap years only)."""
    year = "(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
    leap = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
    days = ("(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
            "|02-(?:0[1-9]|1[0-9]|2[0-8])")
    return f"{year}-(?:{days})|{leap}-02-29"
