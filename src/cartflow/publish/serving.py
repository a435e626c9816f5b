"""Publish → serving store: the batch path refreshes what the purchase-history API reads.

Only the lines of the batches this run standardized are upserted (keyed by event id for
streamed lines, by order line id for file drops), so a run costs what it added, and the
batch and streaming paths agree on every invoice.
"""

from __future__ import annotations

from typing import Callable

import duckdb
import pyarrow as pa

from cartflow.config import Project
from cartflow.serving.refresh import refresh_from_gold
from cartflow.serving.store import open_store

READ_CHUNK_ROWS = 200_000


def refresh_serving(project: Project, batch_ids: list[str], progress: Callable[[int], None] | None = None) -> int:
    """Upsert the new gold order lines of `batch_ids` into the serving store; returns rows written."""
    if not batch_ids:
        return 0
    con = duckdb.connect(str(project.warehouse_path), read_only=True)
    store = open_store(project)
    written = 0
    try:
        reader = con.execute(
            "SELECT * FROM gold.fct_order_line WHERE _batch_id IN (SELECT unnest(?)) ORDER BY invoice_no",
            [batch_ids],
        ).fetch_record_batch(READ_CHUNK_ROWS)
        for batch in reader:
            written += refresh_from_gold(store, pa.Table.from_batches([batch]))
            if progress:
                progress(written)
    finally:
        store.close()
        con.close()
    return written
