"""Records inside JSON documents: a dotted path to the list, and Frankfurter rate pages as rows.

Shared by the `http` source (which pages through documents) and bronze (which converts
the pages it landed), so neither imports the other.
"""

from __future__ import annotations

from typing import Any


def dig(document: Any, path: str | None) -> Any:
    """`a.b.c` inside nested objects; None when any step is missing."""
    if not path:
        return document
    cur = document
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def frankfurter_rows(document: Any) -> list[dict[str, Any]]:
    """A Frankfurter page as rows: `{base, date, rates: {CUR: r}}` or `{base, rates: {date: {CUR: r}}}`."""
    if not isinstance(document, dict) or not isinstance(document.get("rates"), dict):
        return [document] if document is not None else []
    base, rates = document.get("base"), document["rates"]
    rows: list[dict[str, Any]] = []
    if "date" in document and not any(isinstance(v, dict) for v in rates.values()):
        for currency, rate in rates.items():
            rows.append({"base": base, "currency": currency, "rate": rate, "date": document["date"]})
        return rows
    for day, day_rates in rates.items():
        if isinstance(day_rates, dict):
            for currency, rate in day_rates.items():
                rows.append({"base": base, "currency": currency, "rate": rate, "date": day})
        else:
            rows.append({"base": base, "currency": None, "rate": day_rates, "date": day})
    return rows
