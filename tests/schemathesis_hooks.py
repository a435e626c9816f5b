"""Schemathesis hooks for tests/test_chaos_api.py (loaded through SCHEMATHESIS_HOOKS).

They touch only the *positive* cases (schema-valid requests, which must be accepted), and
only for the rules the OpenAPI document states in words because JSON Schema has no form
for them:

* Quantity x UnitPrice must fit DECIMAL(18,3) (a product of two fields): a generated valid
  line whose product does not fit gets Quantity 1, which keeps it schema-valid.
* An event id keeps the content it was first accepted with (state across requests): an
  explicit event id gets a suffix unique to this run, so two generated lines never share one.
* Dashboard filters: `from` must not be after `to` (two parameters): they are swapped.
* A page cursor is `next_cursor` of a previous page, which no schema can generate: left out.

Negative cases and every check are left as they are.
"""

from __future__ import annotations

import itertools
from decimal import Decimal, InvalidOperation
from typing import Any

import schemathesis

MONEY_MAX = Decimal("999999999999999.999")
_ids = itertools.count()


def _positive(case: Any) -> bool:
    meta = getattr(case, "meta", None)
    generation = getattr(meta, "generation", None)
    mode = getattr(generation, "mode", None)
    return mode is not None and not getattr(mode, "is_negative", False)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value).strip(" ")) if isinstance(value, (int, float, str)) else None
    except InvalidOperation:
        return None


def _fit_line(line: Any) -> None:
    if not isinstance(line, dict):
        return
    quantity, price = _number(line.get("Quantity")), _number(line.get("UnitPrice"))
    if quantity is not None and price is not None and abs(quantity * price) > MONEY_MAX:
        line["Quantity"] = 1
    if isinstance(line.get("event_id"), str):
        line["event_id"] = f"{line['event_id'][:100]}.{next(_ids)}"


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if not _positive(case):
        return case
    path = case.operation.path
    if path == "/v1/order-lines" and isinstance(case.body, (list, dict)):
        for line in case.body if isinstance(case.body, list) else [case.body]:
            _fit_line(line)
    if path.startswith("/dashboard") and isinstance(case.query, dict):
        start, end = case.query.get("from"), case.query.get("to")
        if isinstance(start, str) and isinstance(end, str) and start.strip() > end.strip():
            case.query["from"], case.query["to"] = end, start
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)  # an opaque token the server hands out (next_cursor), not a client value
    return case
