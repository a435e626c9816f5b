"""The Spark engine: the same SQLMesh models through a Spark gateway, in a config of its own.

Why a module of its own: building a SQLMesh Spark connection starts a JVM (5–30 s, ~1 GB),
so the DuckDB warehouse never mentions Spark, and nothing here is imported unless
`[warehouse] engine = "spark"` (`transform.warehouse.open_warehouse`).

Locally (`spark_master = "local[*]"`) Spark keeps its tables under
`.cartflow/spark/warehouse` with an embedded Derby metastore; in production point
`[warehouse] spark_master` at the cluster and `spark_conf` at its metastore (Glue, Hive)
and warehouse location. SQLMesh's own state stays in a DuckDB file next to the metastore
(SQLMesh does not keep state on Spark).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from cartflow.runtime.state import utcnow

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from cartflow.config import Project
    from cartflow.lake.storage import Storage
    from cartflow.transform.warehouse import PublishedObject, WarehouseTable

LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""
CATALOG_FILE = "catalog.json"
WAREHOUSE_LAYERS = ("silver", "gold")


class SparkUnavailable(RuntimeError):
    """Spark cannot start here; the message says what to install or configure."""


@dataclass(frozen=True)
class SparkSettings:
    master: str = "local[*]"
    work_dir: Path = Path(".cartflow/spark")
    """Local: metastore, warehouse, SQLMesh state, logs. Never part of the lake."""
    warehouse_dir: str | None = None
    """`spark.sql.warehouse.dir`; default `<work_dir>/warehouse`, an s3:// URI on a cluster."""
    conf: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_project(cls, project: Project) -> SparkSettings:
        wh = project.config.warehouse
        return cls(master=wh.spark_master, work_dir=project.work_dir / "spark",
                   warehouse_dir=wh.spark_warehouse_dir, conf=dict(wh.spark_conf))

    @property
    def state_db(self) -> Path:
        return self.work_dir / "sqlmesh-state.duckdb"


def spark_conf(s: SparkSettings) -> dict[str, str]:
    """Defaults that make local Spark quiet, UTC and Parquet-native; `[warehouse] spark_conf` wins."""
    work = s.work_dir.resolve()
    conf = {
        "spark.master": s.master,
        "spark.app.name": "cartflow",
        "spark.sql.warehouse.dir": s.warehouse_dir or str(work / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={work / 'metastore_db'};create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={work} "
                                         f"-Dlog4j2.configurationFile=file:{work / 'log4j2.properties'}",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.legacy.createHiveTableByDefault": "false",
        "spark.sql.sources.default": "parquet",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    }
    conf.update(s.conf)
    return conf


def _prepare(s: SparkSettings) -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailable("engine = \"spark\" needs pyspark: install cartflow with the spark extra "
                               "(`pip install 'cartflow[spark]'` or `uv sync --extra spark`)") from None
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise SparkUnavailable("engine = \"spark\" needs Java 17 or newer: install it (Debian: "
                               "`apt-get install openjdk-17-jre-headless`) or set JAVA_HOME")
    s.work_dir.mkdir(parents=True, exist_ok=True)
    log4j = s.work_dir / "log4j2.properties"
    if not log4j.exists():
        log4j.write_text(LOG4J2)
    # pyspark logs the analysis error of every `DESCRIBE` SQLMesh uses to probe for tables
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    logging.getLogger("py4j").setLevel(logging.WARNING)


def session(s: SparkSettings) -> SparkSession:
    """The process's one SparkSession (the same one SQLMesh's gateway gets), started on first use."""
    _prepare(s)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder
    for key, value in spark_conf(s).items():
        builder = builder.config(key, value)
    return builder.enableHiveSupport().getOrCreate()


def stop() -> None:
    """Stop the JVM session (tests; a CLI process just exits)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


# -- the Warehouse on Spark ------------------------------------------------------------
class SparkWarehouse:
    """`transform.warehouse.Warehouse` on Spark; SQLMesh's state stays in a DuckDB file.

    `mirror`: a DuckDB file given views over the published Parquet (`gold.<table>`), so
    the readers written against the DuckDB warehouse (serving refresh, quality checks)
    work unchanged on a Spark project, reading only what was published.
    """

    engine = "spark"

    def __init__(self, settings: SparkSettings, mirror: Path) -> None:
        self.settings = settings
        self.path = Path(mirror)

    def gateway(self) -> tuple[str, Any]:
        from sqlmesh.core.config import DuckDBConnectionConfig, GatewayConfig

        from cartflow.transform.spark_adapter import ParquetSparkConnectionConfig

        _prepare(self.settings)
        return "spark", GatewayConfig(
            connection=ParquetSparkConnectionConfig(config=spark_conf(self.settings), concurrent_tasks=1),
            state_connection=DuckDBConnectionConfig(database=str(self.settings.state_db.resolve())),
        )

    @property
    def spark(self) -> SparkSession:
        return session(self.settings)

    def batch_counts(self, table: str, batch_ids: list[str]) -> dict[str, int]:
        quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in batch_ids)
        rows = self.spark.sql(f"SELECT _batch_id, count(*) AS n FROM {table} WHERE _batch_id IN ({quoted}) "
                              "GROUP BY _batch_id").collect()
        return {r["_batch_id"]: int(r["n"]) for r in rows}

    def row_count(self, table: str) -> int | None:
        if not _exists(self.spark, table):
            return None
        return int(self.spark.table(table).count())

    def value_counts(self, table: str, column: str) -> dict[str, int]:
        rows = self.spark.sql(f"SELECT {column} AS v, count(*) AS n FROM {table} GROUP BY {column} "
                              "ORDER BY n DESC").collect()
        return {r["v"]: int(r["n"]) for r in rows}

    def read_table(self, table: str) -> Any:
        return read_table(self.settings, table)

    def export_table(self, table: str, target: Path) -> int:
        df = self.spark.table(table)
        with tempfile.TemporaryDirectory(prefix="cf-spark-publish-") as tmp:
            out = Path(tmp) / "out"
            df.coalesce(1).write.mode("overwrite").option("compression", "zstd").parquet(str(out))
            shutil.move(str(next(out.glob("part-*.parquet"))), target)
        return int(df.count())

    def tables(self, schemas: Iterable[str]) -> list[str]:
        return warehouse_tables(self.settings, tuple(schemas))

    def published(self, storage: Storage, objects: list[PublishedObject]) -> None:
        write_catalog(self.settings)
        write_mirror(self.path, objects)

    def catalog_tables(self, storage: Storage | None = None) -> list[WarehouseTable]:
        return catalog_tables(self.settings)


def read_table(s: SparkSettings, name: str) -> Any:
    """A warehouse table as Arrow (tests and parity checks; collects to the driver)."""
    return session(s).table(name).toArrow()


def warehouse_tables(s: SparkSettings, schemas: tuple[str, ...] = WAREHOUSE_LAYERS) -> list[str]:
    spark = session(s)
    names = []
    for schema in schemas:
        if spark.catalog.databaseExists(schema):
            names += [f"{schema}.{t.name}" for t in spark.catalog.listTables(schema) if not t.isTemporary]
    return sorted(names)


def write_mirror(path: Path, objects: list[PublishedObject]) -> None:
    """Views `<schema>.<table>` over each published Parquet object, in a DuckDB file."""
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        for o in objects:
            schema, name = o.table.split(".", 1)
            uri = o.uri.replace("'", "''")
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            con.execute(f'CREATE OR REPLACE VIEW "{schema}"."{name}" AS SELECT * FROM read_parquet(\'{uri}\')')
    finally:
        con.close()


def _exists(spark: Any, fq: str) -> bool:
    schema, name = fq.split(".", 1)
    return bool(spark.catalog.databaseExists(schema) and spark.catalog.tableExists(name, schema))


def write_catalog(s: SparkSettings) -> None:
    """silver/gold metadata for `cartflow catalog`, so listing tables never starts a JVM."""
    spark = session(s)
    tables = []
    for fq in warehouse_tables(s):
        df = spark.table(fq)
        tables.append({"layer": fq.split(".")[0], "name": fq.split(".", 1)[1],
                       "columns": [[f.name, f.dataType.simpleString().upper()] for f in df.schema.fields],
                       "rows": int(df.count()), "location": f"spark:{fq}"})
    path = s.work_dir / CATALOG_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"written_at": utcnow(), "tables": tables}, indent=2))
    os.replace(tmp, path)


def catalog_tables(s: SparkSettings) -> list[WarehouseTable]:
    """What the last Spark run recorded (`write_catalog`): no JVM is started to list tables."""
    from cartflow.transform.warehouse import WarehouseTable

    path = s.work_dir / CATALOG_FILE
    if not path.exists():
        return []
    meta = json.loads(path.read_text())
    return [WarehouseTable(layer=t["layer"], name=t["name"], location=t["location"], format="spark",
                           rows=t["rows"], columns=[(c[0], c[1]) for c in t["columns"]],
                           note=f"as of the last Spark run ({meta['written_at']})")
            for t in meta["tables"]]
