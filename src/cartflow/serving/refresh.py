"""Batch → serving store: the publish step upserts new gold order lines, so both paths agree.

A streamed line comes back through raw → bronze → silver → gold carrying its
`event_id`; it is upserted under that id, onto the row the serving sink already wrote,
so it is never shown twice. CSV lines have no event id and use gold's `order_line_id`.
Gold's amounts are taken as they are: gold is the reference the stream imitates.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

import pyarrow as pa

from cartflow.serving.store import UNKNOWN_CUSTOMER, ServingLine, ServingStore

CHUNK_ROWS = 5_000
REQUIRED = ("order_line_id", "invoice_no", "line_type", "stock_code", "customer_id", "invoice_ts", "quantity",
            "unit_price", "gross_amount", "return_amount", "net_amount")


def refresh_from_gold(store: ServingStore, table: pa.Table,
                      progress: Callable[[int], None] | None = None) -> int:
    """Upsert `gold.fct_order_line` rows (new or changed ones); returns the rows written."""
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise ValueError(f"refresh_from_gold: the table lacks {', '.join(missing)}: pass gold.fct_order_line rows")
    written = 0
    for batch in table.to_batches(max_chunksize=CHUNK_ROWS):
        lines = [_line(row) for row in batch.to_pylist()]
        written += store.upsert(lines)
        if progress:
            progress(written)
    return written


def _line(row: dict[str, Any]) -> ServingLine:
    event_id = row.get("event_id") or None
    return ServingLine(
        line_id=event_id or row["order_line_id"],
        invoice_no=row["invoice_no"],
        stock_code=row["stock_code"],
        description=row.get("description"),
        quantity=int(row["quantity"]),
        unit_price=_dec(row["unit_price"]),
        invoice_ts=row["invoice_ts"],
        customer_id=row["customer_id"] or UNKNOWN_CUSTOMER,
        country=row.get("country"),
        line_type=row["line_type"],
        gross_amount=_dec(row["gross_amount"]),
        return_amount=_dec(row["return_amount"]),
        net_amount=_dec(row["net_amount"]),
        currency=row.get("currency") or "GBP",
        source=row.get("source") or "batch",
        event_id=event_id,
    )


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))
