"""Reference exchange rates like the ECB's: ~30 currencies against EUR, business days only.

A seeded mean-reverting random walk per currency (0.4% daily volatility) around realistic
2024 levels, so the same seed serves the same rates in the sandbox API and in generated files.
Business days are TARGET days: Monday to Friday, except 1 January, Good Friday, Easter
Monday, 1 May, 25 and 26 December. Asking for a weekend or holiday gives the previous
business day, as Frankfurter does.
"""

from __future__ import annotations

import bisect
import math
import random
from datetime import date, timedelta

#: units of each currency per 1 EUR, roughly as in 2024
LEVELS: dict[str, float] = {
    "AUD": 1.65, "BGN": 1.9558, "BRL": 5.5, "CAD": 1.47, "CHF": 0.95, "CNY": 7.8, "CZK": 25.2, "DKK": 7.46,
    "GBP": 0.86, "HKD": 8.45, "HUF": 390.0, "IDR": 17000.0, "ILS": 4.0, "INR": 90.0, "ISK": 150.0,
    "JPY": 160.0, "KRW": 1450.0, "MXN": 18.5, "MYR": 5.0, "NOK": 11.6, "NZD": 1.78, "PHP": 62.0, "PLN": 4.3,
    "RON": 4.97, "SEK": 11.4, "SGD": 1.46, "THB": 38.0, "TRY": 35.0, "USD": 1.08, "ZAR": 20.0,
}
PEGGED = {"BGN"}  # the lev is pegged to the euro: it does not walk
CURRENCIES = ("EUR", *sorted(LEVELS))
FIRST_DAY = date(2015, 1, 2)


def easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month = (h + el - 7 * m + 114) // 31
    day = (h + el - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def is_business_day(day: date) -> bool:
    if day.weekday() >= 5:
        return False
    if (day.month, day.day) in ((1, 1), (5, 1), (12, 25), (12, 26)):
        return False
    sunday = easter(day.year)
    return day not in (sunday - timedelta(days=2), sunday + timedelta(days=1))


class RateBook:
    """Every business day's rates from FIRST_DAY to `last`, computed once (about 90k numbers)."""

    def __init__(self, seed: int = 7, last: date | None = None) -> None:
        last = last or date.today()
        rng = random.Random(seed)
        self.days: list[date] = []
        self.rates: list[dict[str, float]] = []
        level = dict(LEVELS)
        day = FIRST_DAY
        while day <= last:
            if is_business_day(day):
                for cur in level:
                    if cur not in PEGGED:  # a walk pulled back to its level, so ten years stay plausible
                        pull = -0.01 * math.log(level[cur] / LEVELS[cur])
                        level[cur] *= math.exp(pull + rng.gauss(0.0, 0.004))
                self.days.append(day)
                self.rates.append({cur: _round(v) for cur, v in level.items()})
            day += timedelta(days=1)

    @property
    def first(self) -> date:
        return self.days[0]

    @property
    def last(self) -> date:
        return self.days[-1]

    def on_or_before(self, day: date) -> tuple[date, dict[str, float]] | None:
        """The published day and its EUR rates for `day` (the previous business day on a weekend)."""
        i = bisect.bisect_right(self.days, day) - 1
        if i < 0:
            return None
        return self.days[i], self.rates[i]

    def between(self, start: date, end: date) -> list[tuple[date, dict[str, float]]]:
        lo, hi = bisect.bisect_left(self.days, start), bisect.bisect_right(self.days, end)
        return list(zip(self.days[lo:hi], self.rates[lo:hi], strict=False))


def rebase(eur_rates: dict[str, float], base: str, symbols: list[str] | None = None) -> dict[str, float]:
    """Rates against `base` from rates against EUR, rounded like the ECB's (5 significant digits)."""
    table = {"EUR": 1.0, **eur_rates}
    per_base = table[base]
    wanted = symbols or [c for c in CURRENCIES if c != base]
    return {c: _round(table[c] / per_base) for c in wanted if c != base and c in table}


def _round(value: float) -> float:
    """Five significant digits, as the ECB publishes (1.0823, 161.34, 0.85913)."""
    return float(f"{value:.5g}")
