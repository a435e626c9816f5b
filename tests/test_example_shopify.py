"""The Shopify example: a real orders-export shape mapped onto order lines, run end to end.

The export has Shopify's own 79 columns, one row per line item, ISO timestamps with an
offset, and order-level fields (Created at, Shipping Country) on an order's first line
only. The figures are checked against sums computed here from the CSV, with Decimal.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cartflow.cli import app
from cartflow.config import load_project
from cartflow.lake.bronze import convert, layout_for

EXPORT = Path("landing") / "shopify" / "orders_export_1.csv"
ORDER_LEVEL = ("Created at", "Currency", "Shipping Country", "Financial Status", "Total")


def init_example(tmp_path: Path) -> Path:
    directory = tmp_path / "shop"
    result = CliRunner().invoke(app, ["init", "--example", "shopify", str(directory)])
    assert result.exit_code == 0, result.output
    return directory


def export_rows(directory: Path) -> list[dict[str, str]]:
    with (directory / EXPORT).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def expected_revenue(rows: list[dict[str, str]], zone: str) -> dict[date, tuple[Decimal, int]]:
    """Gross sales and orders per shop-local month, computed from the export on its own terms:
    an order's date is on its first row, and a line without a SKU cannot be an order line."""
    created: dict[str, datetime] = {}
    for row in rows:
        if row["Created at"]:
            created.setdefault(row["Name"], datetime.strptime(row["Created at"], "%Y-%m-%d %H:%M:%S %z"))
    gross: dict[date, Decimal] = defaultdict(Decimal)
    orders: dict[date, set[str]] = defaultdict(set)
    for row in rows:
        if not row["Lineitem sku"]:
            continue
        local = created[row["Name"]].astimezone(ZoneInfo(zone))
        month = date(local.year, local.month, 1)
        gross[month] += Decimal(row["Lineitem quantity"]) * Decimal(row["Lineitem price"])
        orders[month].add(row["Name"])
    return {m: (gross[m], len(orders[m])) for m in gross}


def test_init_creates_the_example_and_its_export_becomes_order_line_bronze(tmp_path: Path) -> None:
    directory = init_example(tmp_path)
    project = load_project(directory)
    source = project.config.sources["shopify"]
    rows = export_rows(directory)
    # Shopify's own export shape: its column names, continuation rows with order-level blanks
    assert len(rows[0]) == 79 and {"Name", "Lineitem sku", "Lineitem quantity", "Created at"} <= set(rows[0])
    continuation = [r for i, r in enumerate(rows) if i and r["Name"] == rows[i - 1]["Name"]]
    assert continuation and all(not r[c] for r in continuation for c in ORDER_LEVEL)
    out = tmp_path / "bronze.parquet"
    result = convert(directory / EXPORT, out, source="shopify", entity="order_lines", batch_id="b",
                     source_file=EXPORT.name, ingested_at=datetime(2024, 1, 1),
                     layout=layout_for(source, EXPORT.name, timezone=project.config.project.timezone))
    bronze = pq.read_table(out).to_pylist()
    assert result.rows == len(rows) and result.malformed_rows == 0
    first_of = {r["Name"]: r for r in reversed(rows)}
    for line, row in zip(bronze, rows, strict=True):
        assert (line["invoice_no"], line["quantity"], line["unit_price"]) == (
            row["Name"], row["Lineitem quantity"], row["Lineitem price"])
        assert line["stock_code"] == (row["Lineitem sku"] or None) and line["description"] == row["Lineitem name"]
        # every line carries its order's date and country, filled down from the order's first line
        assert line["invoice_date"] == first_of[row["Name"]]["Created at"]
        assert line["country"] == (first_of[row["Name"]]["Shipping Country"] or None)
    assert len(result.warnings) == 1 and "'Email'" in result.warnings[0] and "and 60 more ignored" in result.warnings[0]


@pytest.mark.slow
def test_cartflow_run_on_the_example_gives_the_exports_revenue_per_shop_month(tmp_path: Path) -> None:
    directory = init_example(tmp_path)
    project = load_project(directory)
    result = CliRunner().invoke(app, ["run", "--project", str(directory)])
    assert result.exit_code == 0, result.output
    rows = export_rows(directory)
    expected = expected_revenue(rows, project.config.project.timezone)
    assert len(expected) == 3 and date(2024, 4, 1) in expected  # March, April, May: the data spans the DST switch
    with duckdb.connect(str(project.warehouse_path), read_only=True) as con:
        got = {r[0]: (r[1], r[2]) for r in con.execute(
            "SELECT period_start, gross_sales, orders FROM gold.mart_revenue_monthly").fetchall()}
        quarantined = con.execute("SELECT reason, count(*) FROM silver.quarantine_order_lines GROUP BY 1").fetchall()
        kept = con.execute("SELECT count(*) FROM silver.order_lines").fetchone()[0]
    assert quarantined == [("missing_field:stock_code", 1)]  # the gift card line without a SKU
    assert kept + 1 == len(rows)  # raw = silver + quarantine
    assert got == expected
