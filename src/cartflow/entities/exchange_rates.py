"""Exchange rates: 1 `base_currency` = `exchange_rate` `currency_code` on `rate_date`."""

from __future__ import annotations

from decimal import Decimal

from cartflow.entities.contract import Column, Entity, Reason, range_reasons

COLUMNS = (
    Column("base_currency", "currency", aliases=("base", "basecode")),
    Column("currency_code", "currency", required=True, aliases=("currency", "quote", "code")),
    Column("exchange_rate", "decimal", "DECIMAL(28, 10).", required=True, aliases=("rate",),
           minimum=Decimal("0"), maximum=Decimal("999999999999999999"), scale=10, scientific=True),
    Column("rate_date", "date", aliases=("date",)),
)

EXCHANGE_RATES = Entity(
    name="exchange_rates",
    description="Daily exchange rates (business days), used to convert amounts to the base currency.",
    columns=COLUMNS,
    key=("base_currency", "currency_code", "rate_date"),
    reasons=(
        Reason("malformed_record", "not an object, or a row the parser could not split", "row"),
        Reason("missing_field:currency_code", "no currency code", "currency_code"),
        Reason("invalid_currency_code", "not a three-letter code", "currency_code"),
        Reason("missing_field:rate_date", "no date", "rate_date"),
        Reason("ambiguous_date", "day and month could be swapped, and the source's rule says quarantine", "rate_date"),
        Reason("unparseable:rate_date", "not a date", "rate_date"),
        Reason("missing_field:exchange_rate", "no rate", "exchange_rate"),
        Reason("unparseable:exchange_rate", "not a decimal number", "exchange_rate"),
        Reason("non_positive_rate", "rate <= 0", "exchange_rate"),
        Reason("base_rate_not_one", "the base quoted against itself at anything but 1", "exchange_rate"),
        Reason("duplicate_rate", "another rate for the same base, currency and day in the batch (the last wins)",
               "exchange_rate"),
        *range_reasons(tuple(c for c in COLUMNS if c.name == "rate_date")),
    ),
    tags=("exchange_rates",),
)
