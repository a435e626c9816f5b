"""What an entity is: its columns, their types and value ranges, its keys and its reasons.

One `Entity` per kind of record (order lines, customers, ...). Everything that handles an
entity derives from it instead of repeating it: the config's list of entities, the bronze
converter and its schema, the API's validation and OpenAPI constraints, the silver
models' range checks (through SQLMesh macros), reconciliation and layer counts.

This module imports nothing of cartflow: it is the bottom of the stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

ColumnType = Literal["text", "integer", "decimal", "timestamp", "date", "currency"]
"""How silver types a column; bronze keeps every column as text whatever its type."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

MONEY_PRECISION, MONEY_SCALE = 18, 3
"""Money is DECIMAL(18, 3): prices in the reference data have up to 3 decimals."""
MONEY_MAX = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE) - Decimal(1).scaleb(-MONEY_SCALE)
"""The largest DECIMAL(18, 3): 999,999,999,999,999.999."""


@dataclass(frozen=True)
class Column:
    """One canonical column of an entity, and the values it may hold."""

    name: str
    type: ColumnType = "text"
    description: str = ""
    required: bool = False
    """A file or page without this column cannot become bronze: it is rejected whole."""
    aliases: tuple[str, ...] = ()
    """Header spellings accepted besides `name`, compared normalised (`normalise_header`)."""
    api_name: str | None = None
    """The field's name in the API's JSON records, when the entity has an ingest endpoint."""
    max_length: int | None = None
    """Longest accepted text (characters, after trimming)."""
    minimum: int | Decimal | None = None
    maximum: int | Decimal | None = None
    """Bounds for integer and decimal columns, inclusive."""
    scale: int | None = None
    """decimal: the most digits after the point."""
    scientific: bool = False
    """integer/decimal: also accept scientific notation (`1.2e-05`), as JSON serialisers write
    small numbers. Off for what people type or export from a spreadsheet (order lines): there
    `1E+2` is a mistake, not a hundred."""

    def spellings(self) -> tuple[str, ...]:
        """Every accepted header spelling, normalised, the canonical name first."""
        names = (normalise_header(self.name), *(normalise_header(a) for a in self.aliases))
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Reason:
    """A quarantine (or dead-letter) reason code and what it means."""

    code: str
    meaning: str
    field: str | None = None


@dataclass(frozen=True)
class Entity:
    """The contract of one entity: columns, keys, and the reasons a row can be rejected."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    """The columns that identify a record of the source (its business key)."""
    reasons: tuple[Reason, ...] = ()
    extra_bronze_columns: tuple[str, ...] = ()
    """Text columns bronze carries beyond the source's own (the stream's `event_id`)."""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"entity {self.name} has no column {name!r} (columns: {', '.join(self.column_names)})")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def bronze_columns(self) -> tuple[str, ...]:
        """Bronze's text columns, in order: the canonical columns, then the extra ones."""
        return (*self.column_names, *self.extra_bronze_columns)

    @property
    def silver_model(self) -> str:
        return f"silver.{self.name}"

    @property
    def quarantine_model(self) -> str:
        return f"silver.quarantine_{self.name}"

    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


def normalise_header(name: str) -> str:
    """`Customer ID`, `customer_id` and `CustomerID` are one spelling: `customerid`."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def range_reasons(columns: tuple[Column, ...]) -> tuple[Reason, ...]:
    """The value-contract reasons every entity shares, one per bounded or limited column."""
    out: list[Reason] = []
    for c in columns:
        if c.max_length is not None:
            out.append(Reason(f"too_long:{c.name}", f"{c.name} longer than {c.max_length} characters", c.name))
        if c.minimum is not None or c.maximum is not None or c.type in ("timestamp", "date"):
            out.append(Reason(f"out_of_range:{c.name}", f"{c.name} outside the contract's range", c.name))
    return tuple(out)
