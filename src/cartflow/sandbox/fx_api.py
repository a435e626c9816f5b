"""The external exchange-rate API: Frankfurter v1's shapes, business days only, base EUR by default.

* `GET /v1/latest?base=GBP&symbols=USD,EUR` — the last business day's rates.
* `GET /v1/2024-01-02` — one day; a weekend or holiday answers with the previous business day.
* `GET /v1/2024-01-01..2024-01-31` (or `2024-01-01..`) — only business days appear as keys.
* `GET /v1/currencies` — the currencies served.
* `GET /legacy/exchange_rates` — the multi-source seed's `exchange_rates.json`, byte for byte,
  as the original system received it (when the sandbox serves the seed).
Errors as Frankfurter's: 404 `{"message":"not found"}`, 422 `{"status":422,"message":"invalid currency: XXX"}`.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fastapi import FastAPI, Query, Response

from cartflow.sandbox.faults import FaultMiddleware, Faults, add_fault_routes
from cartflow.sandbox.fx_model import CURRENCIES, RateBook, rebase

NAMES = {"EUR": "Euro", "USD": "United States Dollar", "GBP": "British Pound", "JPY": "Japanese Yen",
         "AUD": "Australian Dollar", "CHF": "Swiss Franc", "CAD": "Canadian Dollar"}


def create_fx_api(book: RateBook, *, seed_rates: bytes | None = None, faults: Faults | None = None) -> Any:
    faults = faults or Faults()
    app = FastAPI(title="Exchange-rate API (cartflow sandbox, Frankfurter v1 shapes)", docs_url=None, redoc_url=None)
    add_fault_routes(app, faults)

    @app.get("/v1/currencies")
    def currencies() -> Response:
        return _json({c: NAMES.get(c, c) for c in CURRENCIES})

    @app.get("/v1/latest")
    def latest(base: str = "EUR", symbols: str | None = None, amount: float = 1.0) -> Response:
        return _one_day(book, book.last, base, symbols, amount)

    @app.get("/v1/{when}")
    def on(when: str, base: str = "EUR", symbols: str | None = None, amount: float = Query(1.0)) -> Response:
        if ".." in when:
            first, _, last = when.partition("..")
            start, end = _date(first), _date(last) if last else book.last
            if start is None or end is None:
                return _error(404, "not found")
            return _range(book, start, end, base, symbols, amount)
        day = _date(when)
        if day is None:
            return _error(404, "not found")
        return _one_day(book, day, base, symbols, amount)

    if seed_rates is not None:
        @app.get("/legacy/exchange_rates")
        def legacy() -> Response:
            return Response(seed_rates, media_type="application/json")

    return FaultMiddleware(app, faults)


def _one_day(book: RateBook, day: date, base: str, symbols: str | None, amount: float) -> Response:
    base = base.upper()
    wanted, problem = _check(base, symbols)
    if problem:
        return problem
    found = book.on_or_before(min(day, book.last))
    if found is None:
        return _error(404, "not found")
    published, eur = found
    return _json({"amount": amount, "base": base, "date": published.isoformat(),
                  "rates": _scaled(rebase(eur, base, wanted), amount)})


def _range(book: RateBook, start: date, end: date, base: str, symbols: str | None, amount: float) -> Response:
    base = base.upper()
    wanted, problem = _check(base, symbols)
    if problem:
        return problem
    days = book.between(start, end)
    if not days:
        return _error(404, "not found")
    return _json({"amount": amount, "base": base, "start_date": days[0][0].isoformat(),
                  "end_date": days[-1][0].isoformat(),
                  "rates": {d.isoformat(): _scaled(rebase(eur, base, wanted), amount) for d, eur in days}})


def _check(base: str, symbols: str | None) -> tuple[list[str] | None, Response | None]:
    base = base.upper()
    if base not in CURRENCIES:
        return None, _error(422, f"invalid currency: {base}")
    if not symbols:
        return None, None
    wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    bad = [s for s in wanted if s not in CURRENCIES]
    if bad:
        return None, _error(422, f"invalid currency: {bad[0]}")
    return wanted, None


def _scaled(rates: dict[str, float], amount: float) -> dict[str, float]:
    return rates if amount == 1 else {c: round(r * amount, 5) for c, r in rates.items()}


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"message": message} if status == 404 else {"status": status, "message": message}, status)
