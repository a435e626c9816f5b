"""The warehouse the SQLMesh models run on: one protocol, DuckDB or Spark, chosen once.

Everything outside `transform/` that needs the warehouse (the pipeline's reconcile and
layer counts, publishing, the catalog) asks the `Warehouse` that
`open_warehouse(project)` returns, so `[warehouse] engine` is read in one place. The
DuckDB implementation lives here; the Spark one (`transform/spark.py`) is imported only
when the project says `engine = "spark"`, so DuckDB commands never import pyspark or
start a JVM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

if TYPE_CHECKING:  # pragma: no cover; DuckDB and pyarrow load where a connection opens, not on import
    import duckdb
    import pyarrow as pa

    from cartflow.config import Project
    from cartflow.lake.storage import Storage

WAREHOUSE_LAYERS = ("silver", "gold")
"""The schemas the catalog lists from the warehouse (bronze is read from the lake)."""

Setup = Callable[[Any], None]


@dataclass(frozen=True)
class WarehouseTable:
    """What the catalog shows of one silver/gold table: schema, rows, where it lives."""

    layer: str
    name: str
    location: str
    format: str
    rows: int | None
    columns: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class PublishedObject:
    """A warehouse table just written to the lake as one Parquet object."""

    table: str  # "gold.mart_revenue_daily"
    uri: str


class Warehouse(Protocol):
    """The operations the rest of cartflow needs from the engine that holds silver and gold."""

    engine: str
    """"duckdb" or "spark": part of the plan fingerprint and of messages."""
    path: Path
    """A DuckDB file beside which the runner keeps its plan marker: the warehouse itself
    (DuckDB), or the views over what was last published (Spark)."""

    def gateway(self) -> tuple[str, Any]:
        """(name, sqlmesh GatewayConfig) for the SQLMesh config."""
        ...

    def batch_counts(self, table: str, batch_ids: list[str]) -> dict[str, int]:
        """Rows per `_batch_id` of `table` among `batch_ids`."""
        ...

    def row_count(self, table: str) -> int | None:
        """Rows in `table`, or None when it does not exist."""
        ...

    def value_counts(self, table: str, column: str) -> dict[str, int]:
        """Rows per value of `column`, most frequent first."""
        ...

    def read_table(self, table: str) -> pa.Table:
        """The whole table as Arrow (tests, parity checks, small tables)."""
        ...

    def export_table(self, table: str, target: Path) -> int:
        """Write `table` to the local Parquet file `target` (zstd); return its rows."""
        ...

    def tables(self, schemas: Iterable[str]) -> list[str]:
        """Fully qualified names of the tables and views in `schemas`, sorted."""
        ...

    def published(self, storage: Storage, objects: list[PublishedObject]) -> None:
        """Called after a publish: whatever this engine keeps about what was published."""
        ...

    def catalog_tables(self, storage: Storage | None = None) -> list[WarehouseTable]:
        """silver/gold for `cartflow catalog`: read-only, never blocks or starts an engine."""
        ...


def open_warehouse(project: Project, storage: Storage | None = None) -> Warehouse:
    """The project's warehouse: the one place that reads `[warehouse] engine`."""
    wh = project.config.warehouse
    if wh.engine == "spark":
        from cartflow.transform.spark import SparkSettings, SparkWarehouse  # only Spark projects load it

        return SparkWarehouse(SparkSettings.from_project(project), mirror=project.warehouse_path)
    return DuckDBWarehouse(project.warehouse_path, setup=lake_setup(storage), config={"memory_limit": wh.memory_limit})


def lake_setup(storage: Storage | None) -> Setup | None:
    """What a DuckDB connection needs before it reads the lake (httpfs + secret on s3://), if anything."""
    return storage.prepare_duckdb if storage is not None else None


class DuckDBWarehouse:
    """The embedded warehouse: one DuckDB file that also holds SQLMesh's state."""

    engine = "duckdb"

    def __init__(self, path: Path, setup: Setup | None = None, config: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.setup = setup
        """Run on connections that read the lake (httpfs + S3 secret on an s3:// lake)."""
        self.config: dict[str, Any] = dict(config or {})
        """DuckDB settings, e.g. {"memory_limit": "2GB"}."""

    def gateway(self) -> tuple[str, Any]:
        from sqlmesh.core.config import GatewayConfig

        from cartflow.transform.connection import duckdb_connection

        return "duckdb", GatewayConfig(connection=duckdb_connection(str(self.path.resolve()), self.setup,
                                                                    self.config))

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection (a run holding the file read-write makes this raise)."""
        import duckdb

        return duckdb.connect(str(self.path), read_only=True, config=self.config)

    def batch_counts(self, table: str, batch_ids: list[str]) -> dict[str, int]:
        with self.connect() as con:
            rows = con.execute(f"SELECT _batch_id, COUNT(*) FROM {table} "
                               "WHERE _batch_id IN (SELECT UNNEST(?)) GROUP BY 1", [batch_ids]).fetchall()
        return {b: int(n) for b, n in rows}

    def row_count(self, table: str) -> int | None:
        with self.connect() as con:
            if not _exists(con, table):
                return None
            return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]

    def value_counts(self, table: str, column: str) -> dict[str, int]:
        with self.connect() as con:
            rows = con.execute(f"SELECT {column}, count(*) FROM {table} GROUP BY 1 ORDER BY 2 DESC").fetchall()
        return {value: int(n) for value, n in rows}

    def read_table(self, table: str) -> pa.Table:
        with self.connect() as con:
            return con.sql(f"SELECT * FROM {table}").to_arrow_table()

    def export_table(self, table: str, target: Path) -> int:
        with self.connect() as con:
            con.execute(f"COPY (SELECT * FROM {table}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
            return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]

    def tables(self, schemas: Iterable[str]) -> list[str]:
        with self.connect() as con:
            rows = con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables "
                               "WHERE table_schema IN (SELECT unnest(?)) ORDER BY 1", [list(schemas)]).fetchall()
        return [r[0] for r in rows]

    def published(self, storage: Storage, objects: list[PublishedObject]) -> None:
        """Nothing to keep: readers of the DuckDB warehouse read the warehouse itself."""

    def catalog_tables(self, storage: Storage | None = None) -> list[WarehouseTable]:
        if not self.path.exists():
            return []
        import duckdb

        try:
            con = self.connect()
        except duckdb.Error as exc:
            return [WarehouseTable(layer=layer, name="*", location=str(self.path), format="duckdb", rows=None,
                                   note=f"warehouse busy (a run holds it): {str(exc).splitlines()[0][:120]}")
                    for layer in WAREHOUSE_LAYERS]
        try:
            prepare = lake_setup(storage)
            if prepare:  # binding a view over the lake lists its files: an s3:// lake needs httpfs
                prepare(con)
            return list(_describe(con, self.path))
        finally:
            con.close()


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".", 1)
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
                            "AND table_name = ?", [schema, name]).fetchone()[0])  # type: ignore[index]


def _describe(con: duckdb.DuckDBPyConnection, path: Path) -> Iterable[WarehouseTable]:
    layers = ", ".join(f"'{layer}'" for layer in WAREHOUSE_LAYERS)  # literals: a bound parameter imports pandas
    names = con.execute(
        "SELECT table_schema, table_name, table_type FROM information_schema.tables "
        f"WHERE table_schema IN ({layers}) ORDER BY 1, 2").fetchall()
    computed = _computed_views(con)
    for schema, name, kind in names:
        fq = f'"{schema}"."{name}"'
        columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {fq}").fetchall()]
        if (schema, name) in computed:
            # a VIEW model reads the lake on every query: counting it would scan bronze
            yield WarehouseTable(layer=schema, name=name, location=f"{path}#{schema}.{name}",
                                 format="duckdb view", rows=None, columns=columns,
                                 note="view model: computed on read, not stored")
            continue
        rows = con.execute(f"SELECT count(*) FROM {fq}").fetchone()[0]  # type: ignore[index]
        yield WarehouseTable(layer=schema, name=name, location=f"{path}#{schema}.{name}", format="duckdb",
                             rows=int(rows), columns=columns,
                             note="SQLMesh view over its current physical table" if kind == "VIEW" else "")


def _computed_views(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """silver/gold names whose SQLMesh physical object is itself a view (a `kind VIEW` model)."""
    views = {(s, n): sql for s, n, sql in con.execute(
        "SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall()}
    out = set()
    for (schema, name), sql in views.items():
        if schema not in WAREHOUSE_LAYERS:
            continue
        m = re.search(r'FROM\s+(?:"?[\w]+"?\.)?"?(\w+)"?\."?(\w+)"?\s*;?\s*$', sql.strip(), re.IGNORECASE)
        if m and (m.group(1), m.group(2)) in views:
            out.add((schema, name))
    return out
