"""Money as people read it: the currency's minor unit, thousands separators, no stored digit lost.

cartflow stores every amount as DECIMAL(18,3) (prices in the source data have up to 3 decimals);
this is only how an amount is *shown* in a terminal table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Sequence

# ISO 4217 minor units that are not 2 (the default for GBP, USD, EUR and most others).
MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "PYG": 0, "UGX": 0, "XAF": 0, "XOF": 0,
               "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3}


def money_places(values: Sequence[Any], currency: str) -> int:
    """The currency's minor unit (2 for GBP/USD/EUR, 0 for JPY), or more when a value has more digits:
    a unit price of 0.125 stays 0.125, and a column keeps one number of places so its digits align."""
    places = MINOR_UNITS.get(currency.upper(), 2)
    for v in values:
        if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
            exponent = Decimal(str(v)).normalize().as_tuple().exponent
            if isinstance(exponent, int):
                places = max(places, -exponent)
    return places


def is_money(values: Sequence[Any]) -> bool:
    """cartflow stores every amount as DECIMAL(18,3): a column of 3-place decimals is money."""
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, Decimal) and v.as_tuple().exponent == -3 for v in present)


def format_money(value: Any, currency: str, places: int | None = None) -> str:
    """`13178.000` GBP -> `13,178.00`; JPY -> `13,178`. Never rounds a stored digit away (see money_places)."""
    if value is None:
        return ""
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    places = money_places([amount], currency) if places is None else places
    return format(amount.quantize(Decimal(1).scaleb(-places)), ",")
