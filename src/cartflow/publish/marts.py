"""Publish: export the published models (SQLMesh tag `publish`) to `<lake>/marts/<table>/` as Parquet.

Each table is one Parquet object replaced atomically (rename locally, a single PUT on
S3), so readers — `cartflow sql`, the API, the dashboard, Athena — never see half a
table. `marts/_catalog.json` lists what was published, with row counts.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from cartflow.lake.marts import table_key
from cartflow.lake.storage import Storage
from cartflow.runtime.state import utcnow
from cartflow.transform.warehouse import DuckDBWarehouse, PublishedObject, Warehouse

PUBLISHED_SCHEMAS = ("gold",)
"""What `publish` exports when it is given no list: every table of these schemas."""


@dataclass
class PublishedTable:
    name: str
    key: str
    rows: int


def publish(warehouse: Warehouse | Path, storage: Storage, progress: Callable[[str], None] | None = None,
            memory_limit: str | None = None, tables: Iterable[str] | None = None) -> list[PublishedTable]:
    """Export `tables` ('schema.table'; the models SQLMesh tags `publish`, `runner.published_models`)
    one Parquet object each, then `marts/_catalog.json`. Without `tables`: every gold table."""
    if isinstance(warehouse, Path):
        warehouse = DuckDBWarehouse(warehouse, config={"memory_limit": memory_limit} if memory_limit else {})
    names = list(tables) if tables is not None else warehouse.tables(PUBLISHED_SCHEMAS)
    published: list[PublishedTable] = []
    objects: list[PublishedObject] = []
    with tempfile.TemporaryDirectory(prefix="cf-publish-") as tmp:
        for fq in names:
            name = fq.split(".", 1)[1]
            local = Path(tmp) / f"{name}.parquet"
            rows = warehouse.export_table(fq, local)
            storage.write_file(table_key(name), local)
            local.unlink()
            published.append(PublishedTable(name, table_key(name), rows))
            objects.append(PublishedObject(fq, storage.uri(table_key(name))))
            if progress:
                progress(name)
    catalog = {"published_at": utcnow(),
               "tables": {t.name: {"key": t.key, "rows": t.rows} for t in published}}
    storage.write_bytes("marts/_catalog.json", json.dumps(catalog, indent=2).encode())
    warehouse.published(storage, objects)
    return published
