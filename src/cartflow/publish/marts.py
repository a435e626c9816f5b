"""Publish: export gold tables and marts to `<lake>/marts/<table>/` as Parquet.

Each table is one Parquet object replaced atomically (rename locally, a single PUT on
S3), so readers — `cartflow sql`, the API, the dashboard, Athena — never see half a
table. `marts/_catalog.json` lists what was published, with row counts.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import duckdb

from cartflow.lake.marts import table_key
from cartflow.lake.storage import Storage
from cartflow.runtime.state import utcnow

PUBLISHED_SCHEMAS = ("gold",)
#: silver tables users need to see too: what was rejected, and why
PUBLISHED_EXTRA = ("silver.quarantine_order_lines", "silver.quarantine_customers", "silver.quarantine_products",
                   "silver.quarantine_transactions", "silver.quarantine_sales", "silver.quarantine_exchange_rates")


@dataclass
class PublishedTable:
    name: str
    key: str
    rows: int


def publishable_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Fully qualified names of the warehouse's gold tables/views, plus the quarantine."""
    rows = con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema IN (SELECT unnest(?)) ORDER BY 1", [list(PUBLISHED_SCHEMAS)]
    ).fetchall()
    names = [r[0] for r in rows]
    existing = {r[0] for r in con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()}
    return names + [t for t in PUBLISHED_EXTRA if t in existing]


def publish(warehouse: Path, storage: Storage, progress: Callable[[str], None] | None = None,
            memory_limit: str | None = None) -> list[PublishedTable]:
    con = duckdb.connect(str(warehouse), read_only=True, config={"memory_limit": memory_limit} if memory_limit else {})
    published: list[PublishedTable] = []
    try:
        with tempfile.TemporaryDirectory(prefix="cf-publish-") as tmp:
            for fq in publishable_tables(con):
                name = fq.split(".", 1)[1]
                local = Path(tmp) / f"{name}.parquet"
                con.execute(f"COPY (SELECT * FROM {fq}) TO '{local}' (FORMAT parquet, COMPRESSION zstd)")
                rows = con.execute(f"SELECT count(*) FROM {fq}").fetchone()[0]
                storage.write_file(table_key(name), local)
                local.unlink()
                published.append(PublishedTable(name, table_key(name), rows))
                if progress:
                    progress(name)
    finally:
        con.close()
    catalog = {"published_at": utcnow(),
               "tables": {t.name: {"key": t.key, "rows": t.rows} for t in published}}
    storage.write_bytes("marts/_catalog.json", json.dumps(catalog, indent=2).encode())
    return published
