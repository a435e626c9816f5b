"""Transactions: one purchase of one product (a database table), amounts converted to base currency."""

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
    Column("transaction_id", required=True, aliases=("orderid", "id"), max_length=128),
    Column("customer_id", max_length=128),
    Column("product_id", max_length=128),
    Column("quantity", "integer", aliases=("qty",), minimum=INT32_MIN, maximum=INT32_MAX, scientific=True),
    Column("transaction_date", "timestamp", aliases=("orderdate", "date")),
    Column("total_amount", "decimal", aliases=("amount", "total"), minimum=-MONEY_MAX, maximum=MONEY_MAX,
           scale=MONEY_SCALE, scientific=True),
    Column("currency", "currency", aliases=("currencycode",)),
    Column("updated_at", "timestamp", aliases=("lastmodified", "modifiedat")),
)

TRANSACTIONS = Entity(
    name="transactions",
    description="Purchases from the shop database; facts in gold.fct_order_line.",
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
        Reason("missing_field:total_amount", "no amount", "total_amount"),
        Reason("unparseable:total_amount", "not a decimal number", "total_amount"),
        Reason("non_positive_quantity", "quantity <= 0", "quantity"),
        Reason("negative_amount", "amount < 0", "total_amount"),
        Reason("invalid_currency", "not a three-letter currency code", "currency"),
        Reason("missing_exchange_rate", "no rate to the base currency recent enough", "currency"),
        *range_reasons(COLUMNS),
    ),
    tags=("transactions", "facts"),
)
