"""Products: catalogue records from a products API, CSV drops or a database (SCD2 in gold)."""

from __future__ import annotations

from cartflow.entities.contract import (
    INT64_MAX,
    INT64_MIN,
    MONEY_MAX,
    MONEY_SCALE,
    Column,
    Entity,
    Reason,
    range_reasons,
)

COLUMNS = (
    Column("product_id", description="The source's product id (stock code).", required=True,
           aliases=("product", "id", "sku"), max_length=128),
    Column("product_name", aliases=("name", "title"), max_length=1000),
    Column("category", max_length=200),
    Column("price", "decimal", "List price; <= 0 keeps the product with list_price NULL (price_status).",
           aliases=("listprice", "unitprice"), minimum=-MONEY_MAX, maximum=MONEY_MAX, scale=MONEY_SCALE, scientific=True),
    Column("stock_available", "integer", "Units in stock; negative = back-orders (kept, flagged).",
           aliases=("stock", "quantityonhand"), minimum=INT64_MIN, maximum=INT64_MAX, scientific=True),
    Column("currency", "currency", aliases=("currencycode",)),
    Column("updated_at", "timestamp", aliases=("lastmodified", "modifiedat")),
)

PRODUCTS = Entity(
    name="products",
    description="Product records, versioned in gold.dim_product.",
    columns=COLUMNS,
    key=("product_id",),
    reasons=(
        Reason("malformed_record", "not an object, or a row the parser could not split", "row"),
        Reason("missing_field:product_id", "no product id", "product_id"),
        Reason("duplicate_key", "an older copy of a record sent again later in the same batch", "product_id"),
        *range_reasons(tuple(c for c in COLUMNS if c.name in ("product_id", "updated_at"))),
    ),
    tags=("products",),
)
