"""Publish → serving store: the batch path refreshes what the purchase-history API reads.

Only the lines of the batches this run standardized are upserted (keyed by event id for
streamed lines, by order line id for file drops), so a run costs what it added, and the
batch and streaming paths agree on every invoice.
"""

from __future__ import annotations

from typing import Any, Callable

import duckdb
import pyarrow as pa

from cartflow.config import Project
from cartflow.serving.refresh import refresh_from_gold
from cartflow.serving.store import UNKNOWN_CUSTOMER, open_store

READ_CHUNK_ROWS = 200_000
NEW_LINES = "gold.fct_order_line WHERE _batch_id IN (SELECT unnest(?))"


def refresh_serving(project: Project, batch_ids: list[str], progress: Callable[[int], None] | None = None) -> int:
    """Upsert the new gold order lines of `batch_ids` into the serving store; returns rows written."""
    if not batch_ids:
        return 0
    con = duckdb.connect(str(project.warehouse_path), read_only=True)
    store = open_store(project)
    try:
        if hasattr(store, "bulk_upsert"):
            return _bulk(con, store, batch_ids, progress)
        written = 0
        reader = con.execute(f"SELECT * FROM {NEW_LINES}", [batch_ids]).fetch_record_batch(READ_CHUNK_ROWS)
        for batch in reader:
            written += refresh_from_gold(store, pa.Table.from_batches([batch]))
            if progress:
                progress(written)
        return written
    finally:
        store.close()
        con.close()


def _bulk(con: duckdb.DuckDBPyConnection, store: Any, batch_ids: list[str],
          progress: Callable[[int], None] | None) -> int:
    """Shape the rows in SQL (money as integer thousandths, ISO timestamps): no per-row Python objects."""
    cur = con.execute(f"""
        SELECT COALESCE(event_id, order_line_id), invoice_no, stock_code, description, quantity,
               CAST(unit_price AS VARCHAR), strftime(invoice_ts, '%Y-%m-%dT%H:%M:%S'),
               COALESCE(customer_id, '{UNKNOWN_CUSTOMER}'), country, line_type,
               CAST(gross_amount * 1000 AS BIGINT), CAST(return_amount * 1000 AS BIGINT),
               CAST(net_amount * 1000 AS BIGINT), COALESCE(currency, 'GBP'), COALESCE(source, 'batch'), event_id
        FROM {NEW_LINES}""", [batch_ids])
    done = 0

    def chunks():
        nonlocal done
        while rows := cur.fetchmany(READ_CHUNK_ROWS // 4):
            yield rows
            done += len(rows)
            if progress:
                progress(done)

    return store.bulk_upsert(chunks())
