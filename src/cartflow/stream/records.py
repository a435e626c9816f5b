"""Order-line records as the storefront sends them: body parsing, validation, event ids.

A record has the Online Retail fields (InvoiceNo, StockCode, Description, Quantity,
InvoiceDate, UnitPrice, CustomerID, Country) and an optional `event_id`. Validation is
structural: a record that cannot become a bronze row (missing field, a quantity that is
not a whole number, a date that does not parse) is rejected with one error per field;
business rules (stock notes, zero prices) stay in silver, where they are quarantined with
the CSV lines' reasons. Accepted records become events with every value as text, in a
canonical JSON form: those bytes are what the log, the raw zone and bronze all hold.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from cartflow.stream.log import OutgoingEvent

FIELDS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")
REQUIRED = ("InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice")
MAX_LENGTH = {"InvoiceNo": 32, "StockCode": 32, "Description": 1000, "Country": 100, "InvoiceDate": 40,
              "Quantity": 20, "UnitPrice": 30, "CustomerID": 20}
_EVENT_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_INTEGER = re.compile(r"^[+-]?\d+(\.0*)?$")
DEFAULT_DATE_FORMAT = "%-m/%-d/%Y %-H:%M"


class BodyError(Exception):
    """The request body as a whole cannot be read (not JSON, not NDJSON, no records)."""


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
        for i, (event, (index, line)) in enumerate(zip(self.events, self.positions)):
            if i in reasons:
                reason, errors = reasons[i]
                self.rejected.append(Rejected(index, reason, errors, event.value.decode("utf-8"), line))
            else:
                kept.append(event)
                positions.append((index, line))
        self.events, self.positions = kept, positions
        self.rejected.sort(key=lambda r: r.index)


def split_body(body: bytes, content_type: str = "") -> list[tuple[int | None, Any]]:
    """Records of a JSON array, a single JSON object, or NDJSON, each with its NDJSON line number.

    A malformed NDJSON line is returned as a `_Malformed` item, so it is rejected on its own
    and the other lines still count; a malformed JSON array fails the whole body. Any body
    ends as records or a `BodyError`, never another exception: JSON nested deeper than the
    parser's recursion limit, integers of any length, and `\\ud800`-style escapes that decode to
    lone surrogates (a string no UTF-8 store can hold) are answered like any other bad input.
    """
    text = _decode(body)
    stripped = text.lstrip()
    if not stripped:
        raise BodyError("the body is empty: send a JSON array of order lines, or NDJSON (one per line)")
    check_unicode = _SURROGATE_ESCAPE.search(text) is not None  # the decoded text itself cannot hold one
    ndjson = "ndjson" in content_type or "jsonlines" in content_type or "json-seq" in content_type
    if stripped[0] == "[" and not ndjson:
        try:
            items = _loads(text)
        except json.JSONDecodeError as exc:
            raise BodyError(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; "
                            "send a JSON array of order lines, or NDJSON (one JSON object per line)") from None
        except RecursionError:
            raise BodyError(f"the body is not valid JSON here: {_TOO_DEEP}; send a JSON array of flat order-line "
                            "objects") from None
        if not isinstance(items, list):  # e.g. `[1] 2`: JSON, but not one array
            raise BodyError("the body is not one JSON array: send a JSON array of order lines, or NDJSON")
        return [(None, _unicode_checked(item, check_unicode)) for item in items]
    if stripped[0] == "{" and not ndjson:
        try:
            return [(None, _unicode_checked(_loads(text), check_unicode))]
        except (json.JSONDecodeError, RecursionError):
            pass  # more than one object: NDJSON (a single line too deep is rejected below, as a record)
    out: list[tuple[int | None, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, _unicode_checked(_loads(line), check_unicode)))
        except json.JSONDecodeError as exc:
            out.append((number, _Malformed(line, f"not valid JSON: {exc.msg} at column {exc.colno}")))
        except RecursionError:
            out.append((number, _Malformed(line, f"not valid JSON here: {_TOO_DEEP}")))
    if not out:
        raise BodyError("the body holds no records: send a JSON array of order lines, or NDJSON")
    return out


_TOO_DEEP = "arrays and objects are nested too deeply"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _loads(text: str) -> Any:
    """JSON with exact decimals; integers past Python's digit limit stay exact as Decimal, not an error."""
    return json.loads(text, parse_float=Decimal, parse_int=_parse_int)


def _parse_int(text: str) -> int | Decimal:
    try:
        return int(text)
    except ValueError:  # more than sys.get_int_max_str_digits() digits
        return Decimal(text)


def _unicode_checked(item: Any, check: bool) -> Any:
    """The item, or a rejection when one of its strings holds a lone surrogate (from a `\\udXXX` escape)."""
    if not check:
        return item
    where = _surrogate_at(item)
    if where is None:
        return item
    return _Malformed(json.dumps(item, ensure_ascii=True, default=str),
                      f"{where} holds an unpaired UTF-16 surrogate escape (such as \\ud800): send valid Unicode, "
                      "a character outside the BMP as its surrogate pair", reason="invalid_unicode")


def _surrogate_at(item: Any) -> str | None:
    """Where a lone surrogate is ("field 'Description'", "a key", "a value"), or None; iterative, any depth."""
    if isinstance(item, dict):
        for key, value in item.items():
            if _SURROGATE.search(key):
                return "a field name"
            if _surrogate_at_any(value):
                return f"field {key!r}"
        return None
    return "a value" if _surrogate_at_any(item) else None


def _surrogate_at_any(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if _SURROGATE.search(v):
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


@dataclass
class _Malformed:
    text: str
    message: str
    reason: str = "malformed_json"


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BodyError(f"the body is not UTF-8 (byte {exc.start}): JSON must be sent as UTF-8; "
                        "`cartflow send` converts the latin-1 Kaggle CSV for you") from None


def parse_records(items: list[tuple[int | None, Any]], date_format: str = DEFAULT_DATE_FORMAT) -> Parsed:
    """Validate every record; valid ones become events, the others carry per-field errors."""
    parsed = Parsed()
    for index, (line, item) in enumerate(items):
        if isinstance(item, _Malformed):
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
            values, errors = validate(item, date_format)
        except RecursionError:  # a field's value nested just below the parser's limit
            parsed.rejected.append(Rejected(index, "malformed_json", [{"field": None, "message": _TOO_DEEP}],
                                            _dump(item), line))
            continue
        if errors:
            parsed.rejected.append(Rejected(index, errors[0]["code"], errors, _dump(item), line))
            continue
        parsed.events.append(to_event(values))
        parsed.positions.append((index, line))
    return parsed


def validate(record: dict[str, Any], date_format: str = DEFAULT_DATE_FORMAT) -> tuple[dict[str, str | None], list[dict[str, Any]]]:
    """Canonical text values, and one error per bad field (`code` is `<problem>:<field>`)."""
    errors: list[dict[str, Any]] = []
    values: dict[str, str | None] = {}

    def bad(name: str, problem: str, message: str) -> None:
        value = record.get(name)
        errors.append({"field": name, "code": f"{problem}:{name}", "message": message,
                       "value": value if isinstance(value, (str, int, type(None))) else _preview(value)})

    for name in record:
        if name not in FIELDS and name != "event_id":
            bad(name, "unknown_field", f"unknown field (allowed: {', '.join(FIELDS)}, event_id)")
    for name in FIELDS:
        raw = record.get(name)
        if isinstance(raw, bool) or isinstance(raw, (list, dict)):
            bad(name, "invalid", "must be a string or a number")
            continue
        text = _text(raw)
        if text is None or not text.strip():
            if name in REQUIRED:
                bad(name, "missing_field", "required")
            values[name] = None if text is None or name in REQUIRED else text
            continue
        if _plain_length(raw, text) > MAX_LENGTH[name]:
            bad(name, "too_long", f"at most {MAX_LENGTH[name]} characters")
            continue
        problem = _check(name, text, date_format)
        if problem:
            bad(name, "invalid", problem)
        values[name] = text
    event_id = record.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not _EVENT_ID.match(event_id)):
        errors.append({"field": "event_id", "code": "invalid:event_id", "value": str(event_id),
                       "message": "1-128 characters of A-Z a-z 0-9 . _ : @ / + = -"})
    values["event_id"] = event_id or derive_event_id(values)
    return values, errors


def _check(name: str, text: str, date_format: str) -> str | None:
    if name == "Quantity" and not _INTEGER.match(text.strip()):
        return "must be a whole number (negative for cancellations)"
    if name == "UnitPrice":
        try:
            price = Decimal(text.strip())
        except InvalidOperation:
            return "must be a decimal number such as 2.55"
        if not price.is_finite():
            return "must be a finite decimal number"
        if price.as_tuple().exponent < -3:  # type: ignore[operator]
            return "at most 3 decimal places (prices are DECIMAL(18,3))"
    if name == "CustomerID":
        if not _INTEGER.match(text.strip()) or Decimal(text.strip()) <= 0:
            return "must be a positive whole number, or null/absent for a guest"
    if name == "InvoiceDate" and parse_invoice_date(text, date_format) is None:
        example = datetime(2010, 12, 1, 8, 26).strftime(date_format)
        return f"not a date: use {example!r} ({date_format}) or ISO 8601 such as '2010-12-01T08:26:00'"
    return None


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
    payload = json.dumps([values.get(f) for f in FIELDS], ensure_ascii=False, separators=(",", ":"))
    return "ol-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def to_event(values: dict[str, str | None]) -> OutgoingEvent:
    """The canonical JSON of an accepted record; partition key = InvoiceNo."""
    body = {"event_id": values["event_id"], **{f: values.get(f) for f in FIELDS}}
    value = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return OutgoingEvent(key=str(values["InvoiceNo"]).encode("utf-8"), value=value, event_id=str(values["event_id"]))


def strptime_format(date_format: str) -> str:
    """`%-m/%-d/%Y` (DuckDB/glibc) as Python's strptime spells it (it accepts unpadded numbers)."""
    return date_format.replace("%-", "%")


_KAGGLE_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})$")


def parse_invoice_date(text: str, date_format: str = DEFAULT_DATE_FORMAT) -> datetime | None:
    """The project's date format first, then ISO 8601; aware times become naive UTC."""
    text = text.strip()
    if date_format == DEFAULT_DATE_FORMAT and (m := _KAGGLE_DATE.match(text)):
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
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts
