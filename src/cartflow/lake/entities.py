"""The entities beyond order lines, and the source column names each canonical column accepts.

Bronze keeps every value as text under these canonical names, whatever the source
called it (`Customer_ID`, `customer_id`, `id`), so one set of silver models serves the
multi-source system (PostgreSQL, customer API, exchange-rate API, sales CSV) and the
orders/customers/products system (string keys, a products REST API) alike.
Header names are compared lower-cased with everything but letters and digits removed.
"""

from __future__ import annotations

import pyarrow as pa

from cartflow.entities import ENTITIES

#: canonical column -> accepted (normalised) source names, from the entity contracts
ENTITY_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    e.name: {c.name: c.spellings() for c in e.columns} for e in ENTITIES.values() if e.name != "order_lines"
}

#: a file or page without one of these cannot be standardized at all
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    name: ENTITIES[name].required_columns for name in ENTITY_COLUMNS
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
