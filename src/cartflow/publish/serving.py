"""Publish → serving store: the batch path refreshes what the purchase-history API reads.

Only the lines of the batches this run standardized are upserted (keyed by event id for
streamed lines, by order line id for file drops), so a run costs what it added, and the
batch and streaming paths agree on every invoice.

For the embedded SQLite store, DuckDB shapes the rows (money as integer thousandths, ISO
timestamps) and writes them, sorted by key, into a staging SQLite file through DuckDB's
sqlite extension; the store then upserts from that file in one SQL statement. No row
becomes a Python object, which makes the refresh of a first load several times faster
than feeding `executemany` (see docs/benchmarks.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import duckdb
import pyarrow as pa

from cartflow.config import Project
from cartflow.serving.refresh import refresh_from_gold
from cartflow.serving.sqlite_store import SqliteStore
from cartflow.serving.store import UNKNOWN_CUSTOMER, ServingStore, open_store

READ_CHUNK_ROWS = 200_000
NEW_LINES = "gold.fct_order_line WHERE _batch_id IN (SELECT unnest(?))"

STAGED_LINES = f"""
    SELECT COALESCE(event_id, order_line_id) AS line_id, invoice_no, stock_code, description, quantity,
           CAST(unit_price AS VARCHAR) AS unit_price, strftime(invoice_ts, '%Y-%m-%dT%H:%M:%S') AS invoice_ts,
           COALESCE(customer_id, '{UNKNOWN_CUSTOMER}') AS customer_id, country, line_type,
           CAST(gross_amount * 1000 AS BIGINT) AS gross_milli, CAST(return_amount * 1000 AS BIGINT) AS return_milli,
           CAST(net_amount * 1000 AS BIGINT) AS net_milli, COALESCE(currency, 'GBP') AS currency,
           COALESCE(source, 'batch') AS source, event_id
    FROM {NEW_LINES}
    ORDER BY line_id"""

# The same aggregates as the store's own re-summary (SqliteStore._SUMMARISE), used when
# the store held no line before this refresh, so the staged lines are all there is.
STAGED_INVOICES = """
    SELECT customer_id, invoice_no, MIN(invoice_ts) AS invoice_ts, MIN(country) AS country,
           MIN(line_type) AS line_type, MIN(currency) AS currency, CAST(COUNT(*) AS BIGINT) AS lines,
           CAST(SUM(quantity) AS BIGINT) AS items, CAST(SUM(gross_milli) AS BIGINT) AS gross_milli,
           CAST(SUM(return_milli) AS BIGINT) AS return_milli, CAST(SUM(net_milli) AS BIGINT) AS net_milli
    FROM staged_lines
    GROUP BY customer_id, invoice_no"""


def refresh_serving(project: Project, batch_ids: list[str], progress: Callable[[int], None] | None = None) -> int:
    """Upsert the new gold order lines of `batch_ids` into the serving store; returns rows written."""
    if not batch_ids:
        return 0
    store = open_store(project)
    try:
        if isinstance(store, SqliteStore):
            return _staged(project.warehouse_path, store, batch_ids, progress, project.config.warehouse.memory_limit)
        return _generic(project.warehouse_path, store, batch_ids, progress)
    finally:
        store.close()


def _generic(warehouse: Path, store: ServingStore, batch_ids: list[str], progress: Callable[[int], None] | None) -> int:
    """Any store: Arrow batches → ServingLine objects → `store.upsert`."""
    written = 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        reader = con.execute(f"SELECT * FROM {NEW_LINES}", [batch_ids]).fetch_record_batch(READ_CHUNK_ROWS)
        for batch in reader:
            written += refresh_from_gold(store, pa.Table.from_batches([batch]))
            if progress:
                progress(written)
    return written


def _staged(warehouse: Path, store: SqliteStore, batch_ids: list[str],
            progress: Callable[[int], None] | None, memory_limit: str | None = None) -> int:
    stage = store.path.with_name(store.path.name + ".refresh-stage")
    stage.unlink(missing_ok=True)
    try:
        write_stage(warehouse, stage, batch_ids, memory_limit)
        written = store.upsert_staged(stage)
    finally:
        stage.unlink(missing_ok=True)
    if progress:
        progress(written)
    return written


def write_stage(warehouse: Path, stage: Path, batch_ids: list[str], memory_limit: str | None = None) -> None:
    """Write the new lines (table `lines`) and their invoice totals (table `invoices`) to a SQLite file."""
    from duckdb_extensions import import_extension  # the pinned wheel: DuckDB never downloads it

    limits: dict[str, Any] = {"memory_limit": memory_limit, "temp_directory": str(stage.parent / ".refresh-stage.tmp")}
    with duckdb.connect(config=limits if memory_limit else {}) as con:
        con.execute("SET autoinstall_known_extensions = false")
        import_extension("sqlite_scanner", con=con)
        con.execute("LOAD sqlite_scanner")
        # SQLMesh's views name the warehouse's catalog, which DuckDB derives from the file name.
        catalog = _ident(warehouse.stem)
        con.execute(f"ATTACH {_lit(str(warehouse))} AS {catalog} (READ_ONLY)")
        con.execute(f"USE {catalog}")
        con.execute(f"CREATE TEMP TABLE staged_lines AS {STAGED_LINES}", [batch_ids])
        con.execute(f"ATTACH {_lit(str(stage))} AS refresh_stage (TYPE sqlite)")
        con.execute("CREATE TABLE refresh_stage.lines AS SELECT * FROM temp.staged_lines")
        con.execute(f"CREATE TABLE refresh_stage.invoices AS {STAGED_INVOICES}")


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'
