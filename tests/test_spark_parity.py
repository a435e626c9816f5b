"""Parity: the same generated data through DuckDB and through Spark gives the same gold tables.

Both projects land identical files (so identical batch ids), in two batches so the SCD2
dimensions and the incremental facts see an update, and run the whole pipeline: bronze
conversion, the SQLMesh models, reconciliation and publish. Then every gold table is
compared row for row, and money must be DECIMAL on both engines.
"""

from __future__ import annotations

import datetime as dt
import decimal
import shutil
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cartflow.config import load_project
from cartflow.pipeline.run import run_pipeline
from cartflow.sandbox.retail_generator import generate_online_retail
from cartflow.scaffold import init_project

pytestmark = pytest.mark.slow

#: the gold tables and marts of the order-line feed, which this data set must fill
ORDER_LINE_GOLD = {
    "gold.dim_customer", "gold.dim_product", "gold.dim_date", "gold.fct_order_line", "gold.fct_order",
    "gold.mart_revenue_daily", "gold.mart_revenue_weekly", "gold.mart_revenue_monthly",
    "gold.mart_revenue_quarterly", "gold.mart_top_products_by_season", "gold.mart_customer_rfm",
    "gold.mart_cohort_retention", "gold.mart_customer_purchase_history", "gold.mart_quarantine_summary",
    "gold.mart_revenue_by_country",  # the project's example mart (`cartflow init`)
}
#: wall-clock lineage: when each engine's run ingested the batch, not part of the data
WALL_CLOCK = {"_ingested_at"}


def _batches(tmp: Path) -> list[Path]:
    """A small generated set cut into two files by invoice date (the second updates the first)."""
    src = generate_online_retail(tmp / "generated", scale=0.003, seed=19).files[0]
    header, *lines = src.read_bytes().split(b"\r\n")
    lines = [ln for ln in lines if ln]
    cut = len(lines) * 2 // 3
    while cut < len(lines) and lines[cut].split(b",", 1)[0] == lines[cut - 1].split(b",", 1)[0]:
        cut += 1  # keep an invoice in one file
    out = []
    for i, part in enumerate((lines[:cut], lines[cut:])):
        path = tmp / f"batch{i}" / f"online_retail_{i}.csv"
        path.parent.mkdir()
        path.write_bytes(b"\r\n".join([header, *part]) + b"\r\n")
        out.append(path)
    return out


def _project(root: Path, engine: str) -> Any:
    init_project(root)
    cfg = root / "cartflow.toml"
    text = cfg.read_text().replace('engine = "duckdb"', f'engine = "{engine}"')
    if engine == "spark":
        text = text.replace(f'engine = "{engine}"', f'engine = "{engine}"\nspark_master = "local[2]"')
    cfg.write_text(text)
    return load_project(root)


def _run_both_batches(project: Any, batches: list[Path]) -> float:
    started = time.perf_counter()
    for batch in batches:
        shutil.copy(batch, project.root / "landing" / "online_retail" / batch.name)
        result = run_pipeline(project)
        assert result.status == "succeeded", result.error
        assert result.new_batches == 1
    return time.perf_counter() - started


def _normalise(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, decimal.Decimal):
        return value.normalize()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _rows(table: pa.Table) -> list[tuple]:
    cols = sorted(c for c in table.column_names if c not in WALL_CLOCK)
    data = table.select(cols).to_pylist()
    rows = [tuple(_normalise(r[c]) for c in cols) for r in data]
    return sorted(rows, key=lambda r: tuple((v is None, str(v)) for v in r))


@pytest.mark.timeout(1800)
def test_duckdb_and_spark_build_the_same_gold_tables(tmp_path: Path) -> None:
    from cartflow.transform import spark as spark_engine

    batches = _batches(tmp_path)
    duck = _project(tmp_path / "duck", "duckdb")
    spark = _project(tmp_path / "spark", "spark")
    duck_seconds = _run_both_batches(duck, batches)
    try:
        spark_seconds = _run_both_batches(spark, batches)
        # bronze: one Arrow converter serves both engines, so both lakes hold the same files
        for path in sorted((duck.root / "lake" / "bronze" / "order_lines").glob("*.parquet")):
            other = spark.root / "lake" / "bronze" / "order_lines" / path.name
            left, right = pq.read_table(path), pq.read_table(other)
            assert [(f.name, f.type) for f in left.schema] == [(f.name, f.type) for f in right.schema], path.name
            assert _rows(left) == _rows(right), f"bronze {path.name} differs between Arrow and Spark"
        settings = spark_engine.SparkSettings.from_project(spark)
        spark_tables = spark_engine.warehouse_tables(settings, ("gold",))
        con = duckdb.connect(str(duck.warehouse_path), read_only=True)
        duck_tables = sorted(f"gold.{r[0]}" for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'gold'").fetchall())
        assert spark_tables == duck_tables and len(duck_tables) >= 14

        mismatches = []
        for name in duck_tables:
            left = con.execute(f"SELECT * FROM {name}").to_arrow_table()
            right = spark_engine.read_table(settings, name)
            if sorted(left.column_names) != sorted(right.column_names):
                mismatches.append(f"{name}: columns {left.column_names} vs {right.column_names}")
                continue
            for field in left.schema:
                if pa.types.is_decimal(field.type) != pa.types.is_decimal(right.schema.field(field.name).type):
                    mismatches.append(f"{name}.{field.name}: {field.type} on DuckDB, "
                                      f"{right.schema.field(field.name).type} on Spark (money must stay DECIMAL)")
            lrows, rrows = _rows(left), _rows(right)
            # the order-line star must be exercised; other entities' marts may be empty here
            assert lrows or name not in ORDER_LINE_GOLD, f"{name} is empty: the data set no longer exercises it"
            if lrows != rrows:
                only_l = [r for r in lrows if r not in rrows][:3]
                only_r = [r for r in rrows if r not in lrows][:3]
                mismatches.append(f"{name}: {len(lrows)} vs {len(rrows)} rows; DuckDB only {only_l}; Spark only {only_r}")
        con.close()
        assert not mismatches, "\n".join(mismatches)
        print(f"\nparity: DuckDB {duck_seconds:.1f}s, Spark {spark_seconds:.1f}s for two batches")
    finally:
        spark_engine.stop()
