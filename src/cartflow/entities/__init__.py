"""The entity contracts: one definition per entity, from which everything else derives.

An `Entity` lists its canonical columns (type, accepted header spellings, value bounds,
API field name), its key and the reasons a row can be quarantined. Bronze, the API's
validation and OpenAPI document, the silver range checks, reconciliation and the lists
of tables to publish read them from here. Adding a column to an entity is an edit in its
module here, plus the models that use it.

Nothing of cartflow is imported here: this package is the bottom of the stack.
"""

from __future__ import annotations

from cartflow.entities.contract import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    MONEY_MAX,
    MONEY_PRECISION,
    MONEY_SCALE,
    Column,
    ColumnType,
    Entity,
    Reason,
    normalise_header,
)
from cartflow.entities.customers import CUSTOMERS
from cartflow.entities.exchange_rates import EXCHANGE_RATES
from cartflow.entities.order_lines import ORDER_LINES
from cartflow.entities.products import PRODUCTS
from cartflow.entities.sales import SALES
from cartflow.entities.transactions import TRANSACTIONS
from cartflow.entities.values import DEFAULT_EARLIEST, DEFAULT_FUTURE_DAYS, DateWindow

ENTITIES: dict[str, Entity] = {e.name: e for e in (ORDER_LINES, CUSTOMERS, PRODUCTS, TRANSACTIONS, SALES,
                                                   EXCHANGE_RATES)}
"""Every entity, by name, in the order runs process them."""

ENTITY_NAMES: tuple[str, ...] = tuple(ENTITIES)

LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_source", "string"),
    ("_batch_id", "string"),
    ("_source_file", "string"),
    ("_source_row", "int64"),
    ("_ingested_at", "timestamp"),
    ("_error", "string"),
)
"""Columns bronze adds to every entity: where each row came from, and why it could not be split."""


def entity(name: str) -> Entity:
    """The contract of `name`; KeyError naming the known entities otherwise."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise KeyError(f"unknown entity {name!r} (known: {', '.join(ENTITY_NAMES)})") from None


__all__ = [
    "ENTITIES", "ENTITY_NAMES", "LINEAGE_COLUMNS", "Column", "ColumnType", "DateWindow", "Entity", "Reason",
    "entity", "normalise_header", "DEFAULT_EARLIEST", "DEFAULT_FUTURE_DAYS", "INT32_MAX", "INT32_MIN",
    "INT64_MAX", "INT64_MIN", "MONEY_MAX", "MONEY_PRECISION", "MONEY_SCALE",
    "CUSTOMERS", "EXCHANGE_RATES", "ORDER_LINES", "PRODUCTS", "SALES", "TRANSACTIONS",
]
