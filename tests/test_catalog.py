"""`cartflow catalog`: every layer with schema, partitions, rows and location; Athena/Trino DDL."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cartflow.cli import app
from cartflow.lake.storage import LocalStorage
from cartflow.publish.catalog import build_catalog, ddl
from cartflow.publish.ddl import DdlError, parse_type, render_type
from cartflow.runtime.state import Manifest, SqliteState, utcnow


@pytest.mark.parametrize("duck, athena, trino", [
    ("DECIMAL(18,3)", "decimal(18,3)", "decimal(18,3)"),
    ("VARCHAR", "string", "varchar"),
    ("INTEGER", "int", "integer"),
    ("BIGINT", "bigint", "bigint"),
    ("DOUBLE", "double", "double"),
    ("FLOAT", "float", "real"),
    ("DATE", "date", "date"),
    ("TIMESTAMP", "timestamp", "timestamp"),
    ("TIMESTAMP WITH TIME ZONE", "timestamp", "timestamp"),
    ("BOOLEAN", "boolean", "boolean"),
    ("HUGEINT", "decimal(38,0)", "decimal(38,0)"),
    ("BLOB", "binary", "varbinary"),
    ("VARCHAR[]", "array<string>", "array(varchar)"),
    ('STRUCT(a INTEGER, "b c" DECIMAL(9,2))', "struct<a:int,b c:decimal(9,2)>",
     'row("a" integer, "b c" decimal(9,2))'),
    ("MAP(VARCHAR, BIGINT[])", "map<string,array<bigint>>", "map(varchar, array(bigint))"),
])
def test_type_mapping(duck: str, athena: str, trino: str) -> None:
    assert render_type(parse_type(duck), "athena") == athena
    assert render_type(parse_type(duck), "trino") == trino


def test_unknown_type_says_what_to_do() -> None:
    with pytest.raises(DdlError, match="cast the column"):
        render_type(parse_type("INTERVAL"), "athena")


@pytest.fixture
def lake(project, tmp_path: Path):
    """A small lake by hand: raw manifests, a bronze dataset, a warehouse and published marts."""
    storage = LocalStorage(project.lake_uri)
    state = SqliteState(project.state_path)
    for i, day in enumerate(["2024-01-01", "2024-01-02"]):
        key = f"raw/online_retail/order_lines/ingest_date={day}/b{i}.csv"
        storage.write_bytes(key, b"InvoiceNo\r\n1\r\n")
        state.add_manifest(Manifest("online_retail", "order_lines", f"b{i}", key, f"f{i}.csv", 14,
                                    3 if i == 0 else None, utcnow(), None, "transformed" if i == 0 else "landed"))
    con = duckdb.connect()
    for i in range(2):
        out = tmp_path / f"b{i}.parquet"
        con.execute(f"COPY (SELECT '1' AS invoice_no, 'b{i}' AS _batch_id FROM range(3)) TO '{out}' (FORMAT parquet)")
        storage.write_file(f"bronze/order_lines/b{i}.parquet", out)
    mart = tmp_path / "m.parquet"
    con.execute(f"COPY (SELECT DATE '2024-01-01' AS day, 12.50::DECIMAL(18,2) AS net_revenue, 3::BIGINT AS orders "
                f"FROM range(4)) TO '{mart}' (FORMAT parquet)")
    storage.write_file("marts/mart_revenue_daily/data.parquet", mart)
    storage.write_bytes("marts/_catalog.json", json.dumps({"published_at": "2024-01-03T00:00:00+00:00",
                                                            "tables": {}}).encode())
    wh = duckdb.connect(str(project.warehouse_path))
    wh.execute("CREATE SCHEMA silver; CREATE SCHEMA gold; "
               "CREATE TABLE silver.order_lines AS SELECT 1 AS quantity, 2.5::DECIMAL(12,3) AS unit_price FROM range(5);"
               "CREATE VIEW gold.fct_order_line AS SELECT * FROM silver.order_lines")
    wh.close()
    yield storage, state
    state.close()


def test_catalog_lists_every_layer(project, lake) -> None:
    storage, state = lake
    tables = {(t.layer, t.name): t for t in build_catalog(project, storage, state)}
    assert set(tables) == {("raw", "online_retail.order_lines"), ("bronze", "order_lines"),
                           ("silver", "order_lines"), ("gold", "fct_order_line"),
                           ("published", "mart_revenue_daily")}
    raw = tables[("raw", "online_retail.order_lines")]
    assert raw.partitions == ["ingest_date=2024-01-01", "ingest_date=2024-01-02"] and raw.files == 2
    assert raw.rows == 3 and "1 landed" in raw.note and raw.location.endswith("raw/online_retail/order_lines/")
    bronze = tables[("bronze", "order_lines")]
    assert (bronze.rows, bronze.files) == (6, 2) and ("_batch_id", "VARCHAR") in bronze.columns
    assert tables[("silver", "order_lines")].columns == [("quantity", "INTEGER"), ("unit_price", "DECIMAL(12,3)")]
    assert tables[("gold", "fct_order_line")].rows == 5
    mart = tables[("published", "mart_revenue_daily")]
    assert mart.rows == 4 and mart.columns[1] == ("net_revenue", "DECIMAL(18,2)")
    assert mart.location == storage.uri("marts/mart_revenue_daily") + "/"


def test_catalog_reports_a_busy_warehouse(project, lake) -> None:
    storage, state = lake
    holder = duckdb.connect(str(project.warehouse_path))  # a run holds it read-write
    try:
        tables = build_catalog(project, storage, state)
    finally:
        holder.close()
    busy = [t for t in tables if t.layer in ("silver", "gold")]
    assert busy and all("busy" in t.note for t in busy)
    assert any(t.layer == "published" for t in tables), "the other layers are still listed"


def test_ddl_athena_and_trino(project, lake) -> None:
    storage, state = lake
    tables = build_catalog(project, storage, state)
    with pytest.raises(DdlError, match="Athena reads only S3"):
        ddl(tables, "athena", "shop")
    athena = ddl(tables, "athena", "shop", location="s3://acme-lake/shop/")
    assert "CREATE DATABASE IF NOT EXISTS `shop`;" in athena
    assert ("CREATE EXTERNAL TABLE IF NOT EXISTS `shop`.`mart_revenue_daily` (\n  `day` date,\n"
            "  `net_revenue` decimal(18,2),\n  `orders` bigint\n)\nSTORED AS PARQUET\n"
            "LOCATION 's3://acme-lake/shop/marts/mart_revenue_daily/'") in athena
    trino = ddl(tables, "trino", "shop", catalog="lake")
    assert 'CREATE TABLE IF NOT EXISTS "lake"."shop"."mart_revenue_daily" (' in trino
    assert '"net_revenue" decimal(18,2)' in trino
    assert f"external_location = 'file://{storage.uri('marts/mart_revenue_daily')}/'" not in trino
    assert f"external_location = '{storage.uri('marts/mart_revenue_daily')}/'" in trino
    assert "format = 'PARQUET'" in trino
    assert "fct_order_line" not in trino, "DDL is for published marts only"


def test_catalog_command(project, lake) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["catalog", "--project", str(project.root), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert {t["layer"] for t in json.loads(out.output)} == {"raw", "bronze", "silver", "gold", "published"}
    out = runner.invoke(app, ["catalog", "--project", str(project.root)])
    assert out.exit_code == 0 and "published.mart_revenue_daily: day DATE" in out.output and "ingest_date" in out.output
    out = runner.invoke(app, ["catalog", "--project", str(project.root), "--ddl", "trino"])
    assert out.exit_code == 0 and "CREATE TABLE IF NOT EXISTS" in out.output
    out = runner.invoke(app, ["catalog", "--project", str(project.root), "--ddl", "athena"])
    assert out.exit_code == 1 and "Athena reads only S3" in out.output
    out = runner.invoke(app, ["catalog", "--project", str(project.root), "--ddl", "hive"])
    assert out.exit_code == 1 and "allowed values are athena, trino" in out.output
