"""The entities beyond order lines, and the source column names each canonical column accepts.

Bronze keeps every value as text under these canonical names, whatever the source
called it (`Customer_ID`, `customer_id`, `id`), so one set of silver models serves the
multi-source system (PostgreSQL, customer API, exchange-rate API, sales CSV) and the
orders/customers/products system (string keys, a products REST API) alike.
Header names are compared lower-cased with everything but letters and digits removed.
"""

from __future__ import annotations

import pyarrow as pa

#: canonical column -> accepted (normalised) source names, in order of preference
ENTITY_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "customer_id": ("customerid", "customer", "id"),
        "customer_name": ("customername", "name", "fullname"),
        "email": ("email", "emailaddress"),
        "age": ("age",),
        "gender": ("gender", "sex"),
        "location": ("location", "city", "state", "region"),
        "country": ("country",),
        "date_joined": ("datejoined", "joined", "signupdate", "createdat"),
        "updated_at": ("updatedat", "lastmodified", "modifiedat"),
    },
    "products": {
        "product_id": ("productid", "product", "id", "sku"),
        "product_name": ("productname", "name", "title"),
        "category": ("category",),
        "price": ("price", "listprice", "unitprice"),
        "stock_available": ("stockavailable", "stock", "quantityonhand"),
        "currency": ("currency", "currencycode"),
        "updated_at": ("updatedat", "lastmodified", "modifiedat"),
    },
    "transactions": {
        "transaction_id": ("transactionid", "orderid", "id"),
        "customer_id": ("customerid",),
        "product_id": ("productid",),
        "quantity": ("quantity", "qty"),
        "transaction_date": ("transactiondate", "orderdate", "date"),
        "total_amount": ("totalamount", "amount", "total"),
        "currency": ("currency", "currencycode"),
        "updated_at": ("updatedat", "lastmodified", "modifiedat"),
    },
    "sales": {
        "transaction_id": ("transactionid", "saleid", "id"),
        "product_id": ("productid",),
        "quantity": ("quantity", "qty"),
        "price": ("price", "unitprice"),
        "transaction_date": ("transactiondate", "saledate", "date"),
        "currency": ("currency", "currencycode"),
    },
    "exchange_rates": {
        "base_currency": ("basecurrency", "base", "basecode"),
        "currency_code": ("currencycode", "currency", "quote", "code"),
        "exchange_rate": ("exchangerate", "rate"),
        "rate_date": ("date", "ratedate"),
    },
}

#: a file or page without one of these cannot be standardized at all
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "products": ("product_id",),
    "transactions": ("transaction_id",),
    "sales": ("transaction_id",),
    "exchange_rates": ("currency_code", "exchange_rate"),
}

#: every entity bronze file ends with these; `_source` is the source's name in cartflow.toml
ENTITY_LINEAGE = pa.schema([
    ("_source", pa.string()),
    ("_batch_id", pa.string()),
    ("_source_file", pa.string()),
    ("_source_row", pa.int64()),
    ("_ingested_at", pa.timestamp("us")),
    ("_error", pa.string()),
])

NEW_ENTITIES = tuple(ENTITY_COLUMNS)


def entity_columns(entity: str) -> tuple[str, ...]:
    return tuple(ENTITY_COLUMNS[entity])


def entity_schema(entity: str) -> pa.Schema:
    """Bronze schema of an entity: its canonical text columns, then lineage."""
    return pa.schema([pa.field(c, pa.string()) for c in entity_columns(entity)] + list(ENTITY_LINEAGE))
