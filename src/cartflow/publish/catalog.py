"""`cartflow catalog`: every table in every layer (the Glue crawler's role), and DDL for Athena/Trino.

What is read, and why it is safe to run at any time:
* raw: the manifests in the state store (the raw files themselves are never opened);
* bronze and published marts: Parquet footers in the lake (schema and exact row counts
  without scanning data);
* silver/gold: the warehouse's own metadata, opened read-only. While a run holds the
  warehouse, those layers are reported as busy rather than waited for.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from cartflow.config import Project
from cartflow.lake.storage import Storage
from cartflow.publish.ddl import Dialect, create_schema, create_table
from cartflow.runtime.state import StateStore
from cartflow.transform.warehouse import WAREHOUSE_LAYERS, open_warehouse

__all__ = ["WAREHOUSE_LAYERS", "CatalogTable", "build_catalog", "database_name", "ddl", "warehouse_tables"]


@dataclass
class CatalogTable:
    layer: str
    name: str
    location: str
    format: str
    rows: int | None
    columns: list[tuple[str, str]] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)
    files: int | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["columns"] = [{"name": n, "type": t} for n, t in self.columns]
        return d


def build_catalog(project: Project, storage: Storage, state: StateStore) -> list[CatalogTable]:
    """Every table the platform holds, layer by layer (raw → bronze → silver → gold → published)."""
    con = duckdb.connect()
    try:
        storage.prepare_duckdb(con)
        tables = raw_tables(storage, state)
        tables += bronze_tables(con, storage)
        tables += warehouse_tables(project, storage)
        tables += published_marts(con, storage)
    finally:
        con.close()
    return tables


def raw_tables(storage: Storage, state: StateStore) -> list[CatalogTable]:
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for m in state.manifests():
        groups[(m.source, m.entity)].append(m)
    out = []
    for (source, entity), ms in sorted(groups.items()):
        days = sorted({d for m in ms if (d := _ingest_date(m.raw_key))})
        known = [m.rows for m in ms if m.rows is not None]
        formats = sorted({m.raw_key.rsplit(".", 1)[-1] for m in ms if "." in m.raw_key})
        statuses: defaultdict[str, int] = defaultdict(int)
        for m in ms:
            statuses[m.status] += 1
        out.append(CatalogTable(
            layer="raw", name=f"{source}.{entity}", location=storage.uri(f"raw/{source}/{entity}") + "/",
            format=",".join(formats) + " (as received)", rows=sum(known) if known else None,
            partitions=[f"ingest_date={d}" for d in days], files=len(ms),
            note=", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) + " batch(es)"
                 + ("" if len(known) == len(ms) else "; rows are counted when a batch reaches bronze")))
    return out


def _ingest_date(key: str) -> str | None:
    m = re.search(r"ingest_date=(\d{4}-\d{2}-\d{2})", key)
    return m.group(1) if m else None


def bronze_tables(con: duckdb.DuckDBPyConnection, storage: Storage) -> list[CatalogTable]:
    entities: dict[str, int] = defaultdict(int)
    for key in storage.list("bronze"):
        parts = key.split("/")
        if len(parts) >= 3 and key.endswith(".parquet"):
            entities[parts[1]] += 1
    out = []
    for entity, files in sorted(entities.items()):
        glob = storage.uri(f"bronze/{entity}") + "/*.parquet"
        rows, columns = _parquet_facts(con, glob)
        out.append(CatalogTable(layer="bronze", name=entity, location=storage.uri(f"bronze/{entity}") + "/",
                                format="parquet", rows=rows, columns=columns, files=files,
                                note="one file per batch (`_batch_id`)"))
    return out


def published_marts(con: duckdb.DuckDBPyConnection, storage: Storage) -> list[CatalogTable]:
    published_at = ""
    if storage.exists("marts/_catalog.json"):
        published_at = json.loads(storage.read_bytes("marts/_catalog.json")).get("published_at", "")
    out = []
    for key in storage.list("marts"):
        parts = key.split("/")
        if len(parts) != 3 or not key.endswith(".parquet"):
            continue
        rows, columns = _parquet_facts(con, storage.uri(key))
        out.append(CatalogTable(layer="published", name=parts[1], location=storage.uri(f"marts/{parts[1]}") + "/",
                                format="parquet", rows=rows, columns=columns, files=1,
                                note=f"published {published_at}" if published_at else ""))
    return out


def _parquet_facts(con: duckdb.DuckDBPyConnection, uri: str) -> tuple[int, list[tuple[str, str]]]:
    """Exact row count and schema from the footers alone."""
    lit = uri.replace("'", "''")
    rows = con.execute(f"SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata('{lit}')").fetchone()[0]  # type: ignore[index]  # an aggregate returns one row
    columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{lit}')").fetchall()]
    return int(rows), columns


def warehouse_tables(project: Project, storage: Storage | None = None) -> list[CatalogTable]:
    """silver/gold from the warehouse's metadata, read-only; never blocks, writes or starts an engine."""
    return [CatalogTable(layer=t.layer, name=t.name, location=t.location, format=t.format, rows=t.rows,
                         columns=list(t.columns), note=t.note)
            for t in open_warehouse(project, storage).catalog_tables(storage)]


def ddl(tables: list[CatalogTable], dialect: Dialect, database: str, *, catalog: str = "hive",
        location: str | None = None) -> str:
    """CREATE statements for every published mart; `location` replaces the lake root (a copied lake)."""
    marts = [t for t in tables if t.layer == "published"]
    statements = [create_schema(database, dialect, catalog)]
    for t in marts:
        where = t.location
        if location:
            where = location.rstrip("/") + f"/marts/{t.name}/"
        statements.append(create_table(t.name, t.columns, where, dialect, database, catalog))
    return "\n\n".join(statements) + "\n"


def database_name(project: Project) -> str:
    """The project name as an identifier Athena and Trino both accept."""
    name = re.sub(r"[^a-z0-9_]", "_", project.config.project.name.lower()).strip("_")
    return name if name and not name[0].isdigit() else f"cartflow_{name}"
