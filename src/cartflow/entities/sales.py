"""Sales: one sale of one product at a unit price (CSV drops), converted to base currency."""

from __future__ import annotations

from cartflow.entities.contract import (
    INT32_MAX,
    INT32_MIN,
    MONEY_MAX,
    MONEY_SCALE,
    Column,
    Entity,
    Reason,
    range_reasons,
)

COLUMNS = (
    Column("transaction_id", required=True, aliases=("saleid", "id"), max_length=128),
    Column("product_id", max_length=128),
    Column("quantity", "integer", aliases=("qty",), minimum=INT32_MIN, maximum=INT32_MAX, scientific=True),
    Column("price", "decimal", aliases=("unitprice",), minimum=-MONEY_MAX, maximum=MONEY_MAX, scale=MONEY_SCALE, scientific=True),
    Column("transaction_date", "timestamp", aliases=("saledate", "date")),
    Column("currency", "currency", aliases=("currencycode",)),
)

SALES = Entity(
    name="sales",
    description="Sales lines from CSV drops; facts in gold.fct_order_line.",
    columns=COLUMNS,
    key=("transaction_id",),
    reasons=(
        Reason("malformed_record", "not an object, or a row the parser could not split", "row"),
        Reason("missing_field:transaction_id", "no transaction id", "transaction_id"),
        Reason("duplicate_key", "an older copy sent again later in the same batch", "transaction_id"),
        Reason("missing_field:transaction_date", "no date", "transaction_date"),
        Reason("ambiguous_date", "day and month could be swapped, and the source's rule says quarantine",
               "transaction_date"),
        Reason("unparseable:transaction_date", "not a date", "transaction_date"),
        Reason("missing_field:quantity", "no quantity", "quantity"),
        Reason("unparseable:quantity", "not a whole number", "quantity"),
        Reason("missing_field:price", "no price", "price"),
        Reason("unparseable:price", "not a decimal number", "price"),
        Reason("non_positive_quantity", "quantity <= 0", "quantity"),
        Reason("non_positive_price", "price <= 0", "price"),
        Reason("invalid_currency", "not a three-letter currency code", "currency"),
        Reason("missing_exchange_rate", "no rate to the base currency recent enough", "currency"),
        *range_reasons(COLUMNS),
    ),
    tags=("sales", "facts"),
)
