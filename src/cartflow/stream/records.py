"""Order-line records as the storefront sends them: validation against the contract, event ids.

A record has the Online Retail fields (InvoiceNo, StockCode, Description, Quantity,
InvoiceDate, UnitPrice, CustomerID, Country: the `api_name`s of `ORDER_LINES`' columns)
and an optional `event_id`. A record is accepted only when every value is within the
entity contract (cartflow.entities): required fields, lengths, whole numbers within their
bounds, money in DECIMAL(18,3) with at most 3 decimals, quantity x price in DECIMAL(18,3),
dates in the window of `[contract]`. Anything else is rejected with one error per field,
coded `<problem>:<API field>` (see `contract_reason` for the contract's own code), so no
accepted line can stall a sink or fail a gold audit. Business rules (stock notes, zero
prices) stay in silver, quarantined with the CSV lines' reasons.

Accepted records become events with every value as text, in a canonical JSON form:
those bytes are what the log, the raw zone and bronze all hold.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cartflow.entities import (
    DEFAULT_EARLIEST,
    DEFAULT_FUTURE_DAYS,
    INT64_MAX,
    INT64_MIN,
    ORDER_LINES,
    Column,
    DateWindow,
)
from cartflow.entities.values import (
    MAX_NUMBER_TEXT,
    check_decimal,
    check_instant,
    check_integer,
    check_text,
    fits_money,
    parse_decimal,
    parse_whole,
)
from cartflow.stream.body import TOO_DEEP, BodyError, Malformed, split_body
from cartflow.stream.fast_lane import checks_for, content_event_id, encode_event, fast_values
from cartflow.stream.log import OutgoingEvent
from cartflow.stream.patterns import BLANK, DECIMAL, EVENT_ID, ISO_SHAPE, KAGGLE_SHAPE, WHOLE

__all__ = ["BodyError", "FIELDS", "REQUIRED", "Parsed", "Rejected", "contract_reason", "derive_event_id",
           "parse_invoice_date", "parse_records", "split_body", "to_event", "validate"]

COLUMNS: tuple[Column, ...] = tuple(c for c in ORDER_LINES.columns if c.api_name)
"""The contract's columns that the API carries, in event order (the event id hashes them in this order)."""
FIELDS: tuple[str, ...] = tuple(str(c.api_name) for c in COLUMNS)
REQUIRED: tuple[str, ...] = tuple(str(c.api_name) for c in COLUMNS if c.required)
COLUMN_OF: dict[str, Column] = {str(c.api_name): c for c in COLUMNS}
ALLOWED = frozenset([*FIELDS, "event_id"])
DEFAULT_DATE_FORMAT = "%-m/%-d/%Y %-H:%M"
_EVENT_ID_SHAPE = re.compile(EVENT_ID)


@dataclass
class Rejected:
    index: int
    reason: str
    errors: list[dict[str, Any]]
    raw: str
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "reason": self.reason, "errors": self.errors}
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass
class Parsed:
    events: list[OutgoingEvent] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    positions: list[tuple[int, int | None]] = field(default_factory=list)
    """(index in the request, NDJSON line) of each event, to answer per record after validation."""

    def reject_events(self, reasons: dict[int, tuple[str, list[dict[str, Any]]]]) -> None:
        """Move the events at these positions of `events` to `rejected`, keeping request order."""
        if not reasons:
            return
        kept: list[OutgoingEvent] = []
        positions: list[tuple[int, int | None]] = []
        for i, (event, (index, line)) in enumerate(zip(self.events, self.positions, strict=False)):
            if i in reasons:
                reason, errors = reasons[i]
                self.rejected.append(Rejected(index, reason, errors, event.value.decode("utf-8"), line))
            else:
                kept.append(event)
                positions.append((index, line))
        self.events, self.positions = kept, positions
        self.rejected.sort(key=lambda r: r.index)


def default_window() -> DateWindow:
    """The contract's default date window from now: for callers without a project (tests, tools)."""
    return DateWindow.from_config(DEFAULT_EARLIEST, DEFAULT_FUTURE_DAYS)


def parse_records(items: list[tuple[int | None, Any]], date_format: str = DEFAULT_DATE_FORMAT,
                  window: DateWindow | None = None) -> Parsed:
    """Validate every record; valid ones become events, the others carry per-field errors.

    `window` is fixed once for the whole request (`project.config.contract.window()`), so
    every record of a request is judged against the same "now".
    """
    window = window or default_window()
    parsed = Parsed()
    # the common case first (fast_lane.py): it accepts exactly what validate() accepts, or defers to it
    checks = checks_for(COLUMNS, window, kaggle_dates=date_format == DEFAULT_DATE_FORMAT)
    for index, (line, item) in enumerate(items):
        fast = fast_values(item, checks, ALLOWED, "Quantity", "UnitPrice", FIELDS) if checks else None
        if fast is not None:
            parsed.events.append(to_event(fast))
            parsed.positions.append((index, line))
            continue
        if isinstance(item, Malformed):
            parsed.rejected.append(Rejected(index, item.reason, [{"field": None, "message": item.message}],
                                            item.text, line))
            continue
        if not isinstance(item, dict):
            parsed.rejected.append(Rejected(
                index, "not_an_object",
                [{"field": None, "message": f"expected a JSON object with {', '.join(REQUIRED)}, "
                                            f"got {type(item).__name__}"}], _dump(item), line))
            continue
        try:
            values, errors = validate(item, date_format, window)
        except RecursionError:  # a field's value nested just below the parser's limit
            parsed.rejected.append(Rejected(index, "malformed_json", [{"field": None, "message": TOO_DEEP}],
                                            _dump(item), line))
            continue
        if errors:
            parsed.rejected.append(Rejected(index, errors[0]["code"], errors, _dump(item), line))
            continue
        parsed.events.append(to_event(values))
        parsed.positions.append((index, line))
    return parsed


Problem = tuple[str, str]
"""(problem, message): `missing_field`, `too_long`, `invalid` or `out_of_range`, and what to send instead."""


def validate(record: dict[str, Any], date_format: str = DEFAULT_DATE_FORMAT, window: DateWindow | None = None
             ) -> tuple[dict[str, str | None], list[dict[str, Any]]]:
    """Canonical text values, and one error per bad field (`code` is `<problem>:<field>`)."""
    window = window or default_window()
    errors: list[dict[str, Any]] = []
    values: dict[str, str | None] = {}

    def bad(name: str, problem: str, message: str, code: str | None = None) -> None:
        value = record.get(name)
        errors.append({"field": name, "code": code or f"{problem}:{name}", "message": message,
                       "value": value if isinstance(value, (str, int, type(None))) else _preview(value)})

    for name in record:
        if name not in COLUMN_OF and name != "event_id":
            bad(name, "unknown_field", f"unknown field (allowed: {', '.join(FIELDS)}, event_id)")
    for name, column in COLUMN_OF.items():
        text, problem = field_value(column, record.get(name), date_format, window)
        if problem:
            bad(name, *problem)
        else:
            values[name] = text
    amount = line_amount(values)
    if amount is not None and not fits_money(amount):
        bad("UnitPrice", "out_of_range", f"Quantity x UnitPrice = {amount:,} does not fit DECIMAL(18,3) "
                                         "(at most 999,999,999,999,999.999)", code="out_of_range:line_amount")
    event_id = record.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not _EVENT_ID_SHAPE.fullmatch(event_id)):
        errors.append({"field": "event_id", "code": "invalid:event_id", "value": str(event_id)[:200],
                       "message": "1-128 characters of A-Z a-z 0-9 . _ : @ / + = -"})
    values["event_id"] = event_id or derive_event_id(values)
    return values, errors


def field_value(column: Column, raw: Any, date_format: str, window: DateWindow) -> tuple[str | None, Problem | None]:
    """The field's canonical text, or the first problem with it."""
    if raw is None:
        return None, (("missing_field", "required") if column.required else None)
    if isinstance(raw, str) and not raw.strip():
        if column.required:
            return None, ("missing_field", "required")
        if column.type != "text" and BLANK.fullmatch(raw) and len(raw) <= MAX_NUMBER_TEXT:  # silver's TRIM: NULL
            return raw, None
    if isinstance(raw, (bool, list, dict, float)):  # float: NaN / Infinity, which JSON does not have
        return None, ("invalid", "must be a string" if column.type in ("text", "timestamp")
                      else "must be a number, or a string of one")
    if column.type in ("integer", "decimal"):
        return _number(column, raw)
    if column.type == "timestamp":
        return _instant(column, raw, date_format, window)
    return _text_value(column, raw)


def _text_value(column: Column, raw: str | int | Decimal) -> tuple[str | None, Problem | None]:
    limit = column.max_length
    if not isinstance(raw, str):  # a JSON number: a whole one is its digits (an invoice number sent as 536365)
        low, high = whole_number_bounds(column)
        if not low <= raw <= high or Decimal(raw) != Decimal(raw).to_integral_value():
            return None, ("invalid", f"must be a string, or a whole number from {low:,} to {high:,}")
        raw = str(int(raw))
    if limit is not None and len(raw) > limit:
        return None, ("too_long", f"at most {limit} characters")
    problem = check_text(column, raw)
    return (None, ("invalid", problem)) if problem else (raw, None)


def whole_number_bounds(column: Column) -> tuple[int, int]:
    """A text field also takes a whole JSON number: within a 64-bit integer and the field's length."""
    limit = column.max_length or 20
    return max(INT64_MIN, -(10 ** (limit - 1) - 1)), min(INT64_MAX, 10**limit - 1)


def _number(column: Column, raw: str | int | Decimal) -> tuple[str | None, Problem | None]:
    text = raw if isinstance(raw, str) else _text(raw) or ""
    if _plain_length(raw, text) > MAX_NUMBER_TEXT:
        return None, ("too_long", f"at most {MAX_NUMBER_TEXT} characters")
    if column.type == "integer":
        if not WHOLE.fullmatch(text):
            return None, ("invalid", "must be a whole number" + (" (negative for cancellations)" if column.required
                                                                 else ", or null/absent for a guest"))
        problem = check_integer(column, text)
        return (None, ("out_of_range", problem)) if problem else (text, None)
    if not DECIMAL.fullmatch(text):
        return None, ("invalid", "must be a decimal number such as 2.55 (digits, no exponent, in a string)")
    scale = column.scale or 0
    decimals = len(text.strip(" ").partition(".")[2])
    if decimals > scale:
        value = Decimal(text)
        quantum = Decimal(1).scaleb(-scale)
        if isinstance(raw, str) or value != value.quantize(quantum):  # a JSON number is judged by its value
            return None, ("invalid", f"at most {scale} decimal places (prices are DECIMAL(18,{scale}))")
        text = format(value.quantize(quantum), "f")
    problem = check_decimal(column, text)
    return (None, ("out_of_range", problem)) if problem else (text, None)


def _instant(column: Column, raw: Any, date_format: str, window: DateWindow) -> tuple[str | None, Problem | None]:
    example = datetime(2010, 12, 1, 8, 26).strftime(date_format)
    if not isinstance(raw, str):
        return None, ("invalid", f"must be a string such as {example!r} or '2010-12-01T08:26:00'")
    if column.max_length is not None and len(raw) > column.max_length:
        return None, ("too_long", f"at most {column.max_length} characters")
    problem = check_text(column, raw)
    if problem:
        return None, ("invalid", problem)
    ts = read_api_date(raw, date_format)
    if ts is None:
        return None, ("invalid", f"not a date: use {example!r} ({date_format}) or ISO 8601 such as "
                                 "'2010-12-01T08:26:00' (optionally with Z or +01:00)")
    problem = check_instant(window, ts)
    return (None, ("out_of_range", problem)) if problem else (raw, None)


def read_api_date(text: str, date_format: str = DEFAULT_DATE_FORMAT) -> datetime | None:
    """An InvoiceDate in one of the documented forms (`patterns.ISO_SHAPE`, or the date format), or None."""
    text = text.strip(" ")
    if ISO_SHAPE.fullmatch(text) or date_format == DEFAULT_DATE_FORMAT and KAGGLE_SHAPE.fullmatch(text):
        return parse_invoice_date(text, date_format)
    if date_format != DEFAULT_DATE_FORMAT and text.isascii():
        try:
            return datetime.strptime(text, strptime_format(date_format))
        except ValueError:
            return None
    return None


def line_amount(values: dict[str, str | None]) -> Decimal | None:
    """Quantity x UnitPrice when both are valid, exactly (it must fit DECIMAL(18,3))."""
    quantity, price = values.get("Quantity"), values.get("UnitPrice")
    if quantity is None or price is None:
        return None
    whole, decimal = parse_whole(quantity), parse_decimal(price)
    return None if whole is None or decimal is None else whole * decimal


_CONTRACT_PROBLEM = {"missing_field": "missing_field", "too_long": "too_long", "out_of_range": "out_of_range",
                     "invalid": "unparseable"}


def contract_reason(code: str) -> str | None:
    """The contract's reason code (ORDER_LINES) behind an API error code, or None when the code is the API's own.

    The API names fields as the client sends them (`out_of_range:Quantity`); silver's
    quarantine names the column (`out_of_range:quantity`), and says `unparseable` where the
    API says `invalid`. `out_of_range:line_amount` is the same in both.
    """
    problem, _, name = code.partition(":")
    column = COLUMN_OF.get(name)
    if code == "out_of_range:line_amount":
        candidate = code
    elif column is None or problem not in _CONTRACT_PROBLEM:
        return None
    else:
        candidate = f"{_CONTRACT_PROBLEM[problem]}:{column.name}"
    return candidate if candidate in ORDER_LINES.reason_codes() else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        # 1E+999999999 written out is a gigabyte of zeros: beyond _PLAIN_DIGITS keep the exponent form
        return format(value, "f") if value.is_finite() and abs(value.adjusted()) <= _PLAIN_DIGITS else str(value)
    return str(value)


_PLAIN_DIGITS = 100
"""Numbers are written without an exponent up to this many digits (any field's length limit is far below)."""


def _plain_length(raw: Any, text: str) -> int:
    """The length of a value written out in plain digits, as the length limits count it, without writing it."""
    if not isinstance(raw, Decimal) or not raw.is_finite():
        return len(text)
    sign, digits, exponent = raw.as_tuple()
    n, exp = len(digits), int(exponent)
    if exp >= 0:
        length = n + exp
    elif n > -exp:
        length = n + 1  # the decimal point
    else:
        length = 2 - exp  # "0." and the fraction
    return length + sign


def _preview(value: Any) -> str:
    """A short text of a value that is not a string or an int, for an error message (never all of it)."""
    text = str(_text(value)) if isinstance(value, Decimal) else _dump(value)
    return text if len(text) <= 200 else text[:200] + "…"


def _dump(item: Any) -> str:
    try:
        return json.dumps(item, ensure_ascii=False, default=str)
    except RecursionError:
        return f"<a JSON {type(item).__name__} nested too deeply to keep>"


def derive_event_id(values: dict[str, str | None]) -> str:
    """The same line content always gets the same id, so a client's retry is not a second event.

    Two lines with identical content in every field are one event: silver treats such
    copies as duplicates too (`duplicate_row`).
    """
    return content_event_id(values, FIELDS)  # sha256 of json.dumps([...], ensure_ascii=False), compact


def to_event(values: dict[str, str | None]) -> OutgoingEvent:
    """The canonical JSON of an accepted record; partition key = InvoiceNo."""
    event_id, value = encode_event(values, FIELDS)  # = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return OutgoingEvent(key=str(values["InvoiceNo"]).encode("utf-8"), value=value, event_id=event_id)


def strptime_format(date_format: str) -> str:
    """`%-m/%-d/%Y` (DuckDB/glibc) as Python's strptime spells it (it accepts unpadded numbers)."""
    return date_format.replace("%-", "%")


def parse_invoice_date(text: str, date_format: str = DEFAULT_DATE_FORMAT) -> datetime | None:
    """The project's date format first, then ISO 8601; aware times become naive UTC."""
    text = text.strip()
    if date_format == DEFAULT_DATE_FORMAT and (m := KAGGLE_SHAPE.fullmatch(text)):
        month, day, year, hour, minute = map(int, m.groups())  # strptime is 10x slower on the hot path
        try:
            return datetime(year, month, day, hour, minute)
        except ValueError:
            return None
    try:
        return datetime.strptime(text, strptime_format(date_format))
    except ValueError:
        pass
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts
