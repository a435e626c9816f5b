"""The common case of `validate()`, checked column by column at a fraction of its cost.

A storefront sends the same shapes over and over: text fields as short strings, whole
numbers as JSON integers, prices as JSON decimals, dates in the shop's format. For such
a record `fast_values` returns exactly the canonical values `validate()` would return
(with no error), about ten times faster; for anything else — any other type or shape, a
value at or past a bound's edge cases, an unknown field, a bad event id — it returns None
and the caller runs `validate()` itself. So the fast lane can only accept what
`validate()` accepts, with the same texts: it never rejects, and never decides an error
message. tests/test_stream_fast_lane.py checks the two against each other on generated
records. Every bound comes from the contract's `Column`s (cartflow.entities).

`canonical_event` and `content_event_id` write the event's JSON with the same string
encoder `json.dumps(..., ensure_ascii=False, separators=(",", ":"))` uses, so the bytes
(and the derived ids) are identical to the ones records.py wrote before.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any, Callable

from cartflow.entities import Column, DateWindow
from cartflow.entities.values import MAX_NUMBER_TEXT, fits_money
from cartflow.stream.patterns import EVENT_ID, KAGGLE_SHAPE

Check = Callable[[Any], "str | None | _Slow"]


class _Slow:
    """A value the fast lane does not decide: the record goes to `validate()`."""


SLOW = _Slow()
_EVENT_ID_SHAPE = re.compile(EVENT_ID)
_PLAIN_INT = re.compile(r"-?[0-9]{1,18}")


def text_check(column: Column) -> Check:
    """A string within the length, no NUL; required: not blank. None when optional. Kept as sent."""
    limit, required = column.max_length, column.required

    def check(raw: Any) -> str | None | _Slow:
        if type(raw) is str:
            if (limit is not None and len(raw) > limit) or "\x00" in raw or (required and not raw.strip()):
                return SLOW
            return raw
        return SLOW if raw is not None or required else None

    return check


def integer_check(column: Column) -> Check:
    """A JSON integer, or a plain string of digits, within the column's bounds."""
    low, high, required = column.minimum, column.maximum, column.required

    def check(raw: Any) -> str | None | _Slow:
        if type(raw) is int:
            value, text = raw, str(raw)
        elif type(raw) is str and _PLAIN_INT.fullmatch(raw):
            value, text = int(raw), raw
        else:
            return SLOW if raw is not None or required else None
        if len(text) > MAX_NUMBER_TEXT or (low is not None and value < low) or (high is not None and value > high):
            return SLOW
        return text

    return check


def decimal_check(column: Column) -> Check:
    """A JSON number with at most `scale` decimals, or a plain decimal string, within the bounds."""
    low, high, required, scale = column.minimum, column.maximum, column.required, column.scale or 0
    plain = re.compile(rf"-?[0-9]{{1,18}}(\.[0-9]{{1,{scale}}})?" if scale else r"-?[0-9]{1,18}")

    def check(raw: Any) -> str | None | _Slow:
        kind = type(raw)
        if kind is Decimal:
            if not raw.is_finite() or not -scale <= raw.as_tuple().exponent <= 0:
                return SLOW
            value, text = raw, format(raw, "f")
        elif kind is int:
            value, text = raw, str(raw)
        elif kind is str and plain.fullmatch(raw):
            value, text = Decimal(raw), raw
        else:
            return SLOW if raw is not None or required else None
        if len(text) > MAX_NUMBER_TEXT or (low is not None and value < low) or (high is not None and value > high):
            return SLOW
        return text

    return check


def kaggle_date_check(column: Column, window: DateWindow) -> Check:
    """An InvoiceDate in the default `%-m/%-d/%Y %-H:%M`, a real date within the window. Kept as sent."""
    limit, earliest, latest = column.max_length, window.earliest, window.latest

    def check(raw: Any) -> str | None | _Slow:
        if type(raw) is not str or (limit is not None and len(raw) > limit):
            return SLOW
        m = KAGGLE_SHAPE.fullmatch(raw)
        if m is None:
            return SLOW
        month, day, year, hour, minute = map(int, m.groups())
        try:
            ts = datetime(year, month, day, hour, minute)
        except ValueError:
            return SLOW
        return raw if earliest <= ts <= latest else SLOW

    return check


def checks_for(columns: tuple[Column, ...], window: DateWindow, kaggle_dates: bool) -> list[tuple[str, Check]] | None:
    """One check per API field; None when a column's type has no fast check (then every record is slow)."""
    out: list[tuple[str, Check]] = []
    for column in columns:
        if column.type == "text":
            check = text_check(column)
        elif column.type == "integer":
            check = integer_check(column)
        elif column.type == "decimal":
            check = decimal_check(column)
        elif column.type == "timestamp" and kaggle_dates:
            check = kaggle_date_check(column, window)
        else:
            return None
        out.append((str(column.api_name), check))
    return out


def fast_values(record: Any, checks: list[tuple[str, Check]], allowed: frozenset[str], quantity: str, price: str,
                fields: tuple[str, ...]) -> dict[str, str | None] | None:
    """`validate(record)`'s values when the record is in the common case (no error at all), else None.

    `event_id` is None in them when the record has none: `encode_event` derives it from the
    values it encodes anyway (as `validate()` would, from the same JSON).
    """
    if type(record) is not dict or not allowed.issuperset(record):
        return None
    values: dict[str, str | None] = {}
    for name, check in checks:
        value = check(record.get(name))
        if value is SLOW:
            return None
        values[name] = value  # type: ignore[assignment]
    q, p = values.get(quantity), values.get(price)
    if q is not None and p is not None and not fits_money(int(q) * Decimal(p)):
        return None
    event_id = record.get("event_id")
    if event_id is not None and (type(event_id) is not str or not _EVENT_ID_SHAPE.fullmatch(event_id)):
        return None
    values["event_id"] = event_id
    return values


def _encoded(values: dict[str, str | None], fields: tuple[str, ...]) -> list[str]:
    return ["null" if (v := values.get(f)) is None else encode_basestring(v) for f in fields]


def _id_of(encoded: list[str]) -> str:
    return "ol-" + hashlib.sha256(("[" + ",".join(encoded) + "]").encode("utf-8")).hexdigest()[:32]


def content_event_id(values: dict[str, str | None], fields: tuple[str, ...]) -> str:
    """`records.derive_event_id`: sha256 of the values' JSON array, in field order."""
    return _id_of(_encoded(values, fields))


_PREFIXES: dict[tuple[str, ...], list[str]] = {}


def encode_event(values: dict[str, str | None], fields: tuple[str, ...]) -> tuple[str, bytes]:
    """(event id, `records.to_event`'s bytes): {"event_id": ..., then every field in order}, compact, UTF-8.

    A missing (None) `event_id` in `values` is derived from the content, and set there.
    """
    prefixes = _PREFIXES.get(fields)
    if prefixes is None:
        prefixes = _PREFIXES[fields] = [f",{encode_basestring(f)}:" for f in fields]
    encoded = _encoded(values, fields)
    event_id = values.get("event_id") or _id_of(encoded)
    values["event_id"] = event_id
    body = '{"event_id":' + encode_basestring(event_id) + "".join([p + e for p, e in zip(prefixes, encoded, strict=False)]) + "}"
    return event_id, body.encode("utf-8")
