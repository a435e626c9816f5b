"""Request bodies of `POST /v1/order-lines`: a JSON array, one JSON object, or NDJSON, as records.

Any body ends as records (a bad NDJSON line or a string no UTF-8 store can hold as a
`Malformed` record, rejected on its own) or one `BodyError`, never another exception.
Numbers are read exactly: decimals as `Decimal`, integers of any length too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


class BodyError(Exception):
    """The request body as a whole cannot be read (not JSON, not NDJSON, no records)."""


def split_body(body: bytes, content_type: str = "") -> list[tuple[int | None, Any]]:
    """Records of a JSON array, a single JSON object, or NDJSON, each with its NDJSON line number.

    A malformed NDJSON line is returned as a `Malformed` item, so it is rejected on its own
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
            items = loads(text)
        except json.JSONDecodeError as exc:
            raise BodyError(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; "
                            "send a JSON array of order lines, or NDJSON (one JSON object per line)") from None
        except RecursionError:
            raise BodyError(f"the body is not valid JSON here: {TOO_DEEP}; send a JSON array of flat order-line "
                            "objects") from None
        if not isinstance(items, list):  # e.g. `[1] 2`: JSON, but not one array
            raise BodyError("the body is not one JSON array: send a JSON array of order lines, or NDJSON")
        return [(None, _unicode_checked(item, check_unicode)) for item in items]
    if stripped[0] == "{" and not ndjson:
        try:
            return [(None, _unicode_checked(loads(text), check_unicode))]
        except (json.JSONDecodeError, RecursionError):
            pass  # more than one object: NDJSON (a single line too deep is rejected below, as a record)
    out: list[tuple[int | None, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, _unicode_checked(loads(line), check_unicode)))
        except json.JSONDecodeError as exc:
            out.append((number, Malformed(line, f"not valid JSON: {exc.msg} at column {exc.colno}")))
        except RecursionError:
            out.append((number, Malformed(line, f"not valid JSON here: {TOO_DEEP}")))
    if not out:
        raise BodyError("the body holds no records: send a JSON array of order lines, or NDJSON")
    return out


TOO_DEEP = "arrays and objects are nested too deeply"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def loads(text: str) -> Any:
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
    return Malformed(json.dumps(item, ensure_ascii=True, default=str),
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
class Malformed:
    """A record that is not one: a bad NDJSON line, or a value with a lone surrogate."""

    text: str
    message: str
    reason: str = "malformed_json"


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BodyError(f"the body is not UTF-8 (byte {exc.start}): JSON must be sent as UTF-8; "
                        "`cartflow send` converts the latin-1 Kaggle CSV for you") from None
