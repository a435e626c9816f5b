"""The dashboard's filter (date range and countries) and the SQL it becomes.

One place turns a filter into a WHERE clause, so every panel filters the same way. The
values are written as SQL literals, not bound parameters: binding any Python parameter
makes DuckDB import pandas (seconds on a first request), and a validated `date` and a
quote-doubled string are safe literals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable

MAX_COUNTRIES = 50
MAX_NAME = 100
"""At most 50 names of 100 characters: even percent-encoded 4-byte characters, such a query string stays
under the HTTP server's 80 KB limit on a request's head, past which no JSON answer is possible."""


class FilterError(ValueError):
    """A filter value that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Filter:
    """Inclusive invoice-date range and a set of countries; empty means everything."""

    date_from: date | None = None
    date_to: date | None = None
    countries: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_all(self) -> bool:
        """True when nothing is filtered: panels can then read the marts as published."""
        return self.date_from is None and self.date_to is None and not self.countries

    def where(self, date_col: str = "invoice_date", country_col: str = "country") -> str:
        """A SQL condition over the two columns; `TRUE` when nothing is filtered."""
        clauses: list[str] = []
        if self.date_from is not None:
            clauses.append(f"{date_col} >= DATE '{self.date_from.isoformat()}'")
        if self.date_to is not None:
            clauses.append(f"{date_col} <= DATE '{self.date_to.isoformat()}'")
        if self.countries:
            clauses.append(f"{country_col} IN ({', '.join(sql_string(c) for c in self.countries)})")
        return " AND ".join(clauses) or "TRUE"

    def key(self) -> tuple:
        """Hashable identity, for caching answers."""
        return (self.date_from, self.date_to, tuple(sorted(self.countries)))

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.date_from.isoformat() if self.date_from else None,
                "to": self.date_to.isoformat() if self.date_to else None,
                "countries": list(self.countries)}


def sql_string(value: str) -> str:
    """A SQL string literal: quotes doubled, so the value can never end the literal."""
    return "'" + value.replace("'", "''") + "'"


def _date(value: str | None, name: str) -> date | None:
    if value is None or value.strip() == "":
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise FilterError(f"{name}={value!r}: expected a date as YYYY-MM-DD") from None


def parse_filter(date_from: str | None = None, date_to: str | None = None,
                 countries: Iterable[str] | str | None = None) -> Filter:
    """Build a Filter from query-string values (`country` repeats, one name each)."""
    start, end = _date(date_from, "from"), _date(date_to, "to")
    if start and end and start > end:
        raise FilterError(f"from={start} is after to={end}")
    if isinstance(countries, str):
        countries = [countries]
    given = list(countries or [])
    names = [c.strip() for c in given if c.strip()]
    if len(given) > MAX_COUNTRIES or any(len(c) > MAX_NAME or "\x00" in c for c in given):  # as documented
        raise FilterError(f"country: at most {MAX_COUNTRIES} names of at most {MAX_NAME} characters each")
    return Filter(start, end, tuple(sorted(set(names))))
