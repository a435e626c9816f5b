"""The SQLMesh project end to end on hand-made bronze batches (two days), values by hand.

Day 1 (batch b1) has one row per quarantine rule, good sales, a cancellation, an
adjustment, a line without customer, a customer who changes country inside the batch,
and an exact duplicate. Day 2 (batch b2) moves customer 12583 from France to Germany,
renames product 22728, repeats a day-1 row (not a duplicate: another batch) and adds
one more rejected row. Then b2 is run again: nothing may change.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cartflow.lake.bronze import bronze_schema
from cartflow.transform.runner import (
    ReconciliationError,
    TransformError,
    TransformSettings,
    assert_reconciled,
    open_context,
    read_table,
    reconcile,
    table_names,
    transform,
)

pytestmark = pytest.mark.slow  # SQLMesh runs of the whole model project

UK, FR, DE, EIRE = "United Kingdom", "France", "Germany", "EIRE"
RAW_COLUMNS = ["invoice_no", "stock_code", "description", "quantity", "invoice_date", "unit_price", "customer_id", "country"]

# (invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country)
DAY_1: list[tuple[str | None, ...]] = [
    ("536365", "85123a", "WHITE HANGING HEART ", "6", "12/1/2010 8:26", "2.55", "17850", UK),  # 1 15.300
    ("536365", "71053", "WHITE METAL LANTERN", "6", "12/1/2010 8:26", "3.39", "17850", UK),  # 2 20.340
    ("536365", "71053", "WHITE METAL LANTERN", "6", "12/1/2010 8:26", "3.39", "17850", UK),  # 3 duplicate_row
    ("536366", "22633", "HAND WARMER UNION JACK", "12", "12/1/2010 8:28", "1.85", "17850", UK),  # 4 22.200
    ("536370", "22728", "ALARM CLOCK BAKELIKE PINK", "24", "12/1/2010 8:45", "3.75", "12583", FR),  # 5 90.000
    ("536370", "POST", "POSTAGE", "3", "12/1/2010 8:45", "18.00", "12583", FR),  # 6 54.000 (not a product)
    ("C536379", "D", "Discount", "-1", "12/1/2010 9:41", "27.50", "14527", UK),  # 7 return 27.500
    ("536380", "22960", "JAM MAKING SET", None, "12/1/2010 9:45", "4.25", "17850", UK),  # 8 missing quantity
    ("536381", "22960", "JAM MAKING SET", "1.5", "12/1/2010 9:45", "4.25", "17850", UK),  # 9 unparseable qty
    ("536382", "22960", "JAM MAKING SET", "2", "2010-12-32 09:45", "4.25", "17850", UK),  # 10 unparseable date
    ("536383", "22960", "JAM MAKING SET", "2", "12/1/2010 9:45", "4,25", "17850", UK),  # 11 unparseable price
    ("536384", "22960", "JAM MAKING SET", "2", "12/1/2010 9:45", "4.25", "17850x", UK),  # 12 unparseable customer
    ("536385", "21275", "?", "-10", "12/1/2010 9:50", "0", None, UK),  # 13 stock_note
    ("536386", "21276", "PINK BOX", "0", "12/1/2010 9:50", "1.00", "17850", UK),  # 14 zero_quantity
    ("536387", "21277", "FREE GIFT", "1", "12/1/2010 9:50", "0", "17850", UK),  # 15 non_positive_price_sale
    ("C536388", "21278", "RETURNED", "2", "12/1/2010 9:50", "1.00", "17850", UK),  # 16 cancellation_positive
    (None, "21279", "X", "1", "12/1/2010 9:50", "1.00", "17850", UK),  # 17 missing invoice_no
    ("536389", "  ", "X", "1", "12/1/2010 9:50", "1.00", "17850", UK),  # 18 missing stock_code (blank)
    ("536390", "21279", "X", "1", None, "1.00", "17850", UK),  # 19 missing invoice_date
    ("536391", "21279", "X", "1", "12/1/2010 9:50", None, "17850", UK),  # 20 missing unit_price
    ("536392", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "2", "12/1/2010 10:03", "2.55", None, UK),  # 21 5.100
    ("A563185", "B", "Adjust bad debt", "1", "12/1/2010 11:00", "11062.06", None, UK),  # 22 adjustment
    ("536393", "22728", "ALARM CLOCK BAKELIKE PINK", "2", "12/1/2010 12:00", "3.75", "17850.0", UK),  # 23 7.500
    ("536394", "16216", "LETTER SHAPE PENCIL SHARPENER", "10", "12/1/2010 13:00", "0.125", "13047", UK),  # 24 1.250
    ("536395", "16216", "LETTER SHAPE PENCIL SHARPENER", "5", "12/1/2010 14:00", "0.125", "13047", EIRE),  # 25 0.625
]
DAY_2: list[tuple[str | None, ...]] = [
    ("536400", "22728", "ALARM CLOCK BAKELIKE PINK NEW", "4", "12/2/2010 9:00", "3.75", "12583", DE),  # 1 15.000
    ("536400", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "2", "12/2/2010 9:00", "2.95", "12583", DE),  # 2 5.900
    ("C536401", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "-2", "12/2/2010 10:00", "2.55", "17850", UK),  # 3 ret 5.100
    ("536402", "22633", None, "3", "12/2/2010 11:00", "1.85", "17850", UK),  # 4 5.550, NULL description
    DAY_1[0],  # 5: same text as b1 row 1, but another batch: a sale again (15.300 on day 1)
    ("536403", "22729", "BROKEN", "1", "12/2/2010 12:00", "-1.00", "17850", UK),  # 6 non_positive_price_sale
]
# Arrives after day 2 but happened before day 1: 12583's first version now starts earlier.
LATE: list[tuple[str | None, ...]] = [
    ("536300", "22728", "ALARM CLOCK BAKELIKE PINK", "1", "11/30/2010 9:00", "3.75", "12583", FR),
]

DAY_1_REASONS = {
    "duplicate_row": 1,
    "missing_field:quantity": 1,
    "unparseable:quantity": 1,
    "unparseable:invoice_date": 1,
    "unparseable:unit_price": 1,
    "unparseable:customer_id": 1,
    "stock_note": 1,
    "zero_quantity": 1,
    "non_positive_price_sale": 1,
    "cancellation_positive_quantity": 1,
    "missing_field:invoice_no": 1,
    "missing_field:stock_code": 1,
    "missing_field:invoice_date": 1,
    "missing_field:unit_price": 1,
}
GOLD_TABLES = (
    "gold.dim_customer",
    "gold.dim_date",
    "gold.dim_product",
    "gold.fct_order_line",
    "gold.fct_order",
)
MARTS = (
    "gold.mart_revenue_daily",
    "gold.mart_revenue_weekly",
    "gold.mart_revenue_monthly",
    "gold.mart_revenue_quarterly",
    "gold.mart_top_products_by_season",
    "gold.mart_customer_rfm",
    "gold.mart_cohort_retention",
    "gold.mart_customer_purchase_history",
    "gold.mart_quarantine_summary",
)
ALL_MODELS = (
    "silver.order_lines",
    "silver.quarantine_order_lines",
    "silver.reconciliation_order_lines",
    *GOLD_TABLES,
    *MARTS,
)


def write_batch(lake: Path, batch_id: str, rows: list[tuple[str | None, ...]], ingested_at: str) -> None:
    """Write a bronze Parquet file in the ingest contract's shape, and make it the pending batch."""
    columns: dict[str, list[Any]] = {name: [row[i] for row in rows] for i, name in enumerate(RAW_COLUMNS)}
    columns["_batch_id"] = [batch_id] * len(rows)
    columns["_source_file"] = [f"raw/online_retail/order_lines/{batch_id}.csv"] * len(rows)
    columns["_source_row"] = list(range(1, len(rows) + 1))
    columns["_ingested_at"] = [ingested_at] * len(rows)
    columns["_ingested_at"] = [pa.scalar(ingested_at).cast(pa.timestamp("us")).as_py() for _ in rows]
    columns["event_id"] = [None] * len(rows)
    columns["_error"] = [None] * len(rows)
    columns["_source"] = ["online_retail"] * len(rows)
    schema = bronze_schema("order_lines")  # the ingest side's real contract
    columns = {name: columns[name] for name in schema.names}
    bronze = lake / "bronze" / "order_lines"
    bronze.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=schema), bronze / f"{batch_id}.parquet")
    pending = lake / "_pipeline" / "pending"
    pending.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"batch_id": pa.array([batch_id], pa.string())}), pending / "order_lines.parquet")


def snapshot(settings: TransformSettings) -> dict[str, pa.Table]:
    return {model: read_table(settings, model) for model in ALL_MODELS}


def checksum(table: pa.Table) -> str:
    rows = sorted(repr(tuple(row.values())) for row in table.to_pylist())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def rows(table: pa.Table, **where: Any) -> list[dict[str, Any]]:
    return [row for row in table.to_pylist() if all(row[key] == value for key, value in where.items())]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("transform")
    lake = root / "lake"
    settings = TransformSettings(
        warehouse=root / "warehouse" / "warehouse.duckdb",
        variables={
            "bronze_order_lines": str(lake / "bronze" / "order_lines" / "*.parquet"),
            "pending_order_lines": str(lake / "_pipeline" / "pending" / "order_lines.parquet"),
        },
    )
    write_batch(lake, "b1", DAY_1, "2010-12-01 23:00:00")
    first = transform(settings)
    day_1 = snapshot(settings)
    write_batch(lake, "b2", DAY_2, "2010-12-02 23:00:00")
    second = transform(settings)
    day_2 = snapshot(settings)
    again = transform(settings)  # the same pending batch (b2) once more
    day_2_again = snapshot(settings)
    write_batch(lake, "b0", LATE, "2010-12-03 23:00:00")  # a late file from before day 1
    late = transform(settings)
    after_late = snapshot(settings)
    pq.write_table(  # nothing new: an empty pending list
        pa.table({"batch_id": pa.array([], pa.string())}), lake / "_pipeline" / "pending" / "order_lines.parquet"
    )
    idle = transform(settings)
    after_idle = snapshot(settings)
    return {
        "settings": settings,
        "results": [first, second, again, late, idle],
        "day_1": day_1,
        "day_2": day_2,
        "day_2_again": day_2_again,
        "late": after_late,
        "idle": after_idle,
    }


def test_transform_succeeds_and_reports_timings(runs: dict[str, Any]) -> None:
    for result in runs["results"]:
        assert result.status.is_success
        assert result.total_seconds >= result.run_seconds > 0
        assert "silver.order_lines" in result.model_seconds
        assert result.rebuilt_models == ()
    # the project did not change between the runs: only the first one planned
    assert [result.planned for result in runs["results"]] == [True, False, False, False, False]


def test_a_changed_project_or_a_replaced_warehouse_is_planned_again(runs: dict[str, Any], tmp_path: Path) -> None:
    import shutil
    from dataclasses import replace

    source = runs["settings"]
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(source.warehouse, warehouse)
    settings = replace(source, warehouse=warehouse)
    assert transform(settings).planned  # no marker next to this copy yet
    assert not transform(settings).planned
    changed = replace(settings, variables={**settings.variables, "currency": "EUR"})
    assert transform(changed).planned  # a variable is part of the models
    marker = tmp_path / ".warehouse.duckdb.plan-fingerprint"
    plan_id, fingerprint = marker.read_text().split()
    marker.write_text(f"another-plan {fingerprint}\n")  # e.g. a warehouse restored from a backup
    assert transform(changed).planned
    assert not transform(changed).planned


def test_quarantine_counts_per_reason(runs: dict[str, Any]) -> None:
    quarantine = runs["day_1"]["silver.quarantine_order_lines"]
    counts: dict[str, int] = {}
    for row in quarantine.to_pylist():
        counts[row["reason"]] = counts.get(row["reason"], 0) + 1
    assert counts == DAY_1_REASONS
    assert {row["entity"] for row in quarantine.to_pylist()} == {"order_lines"}
    duplicate = rows(quarantine, reason="duplicate_row")[0]
    assert duplicate["_source_row"] == 3  # the first copy (row 2) stays
    price = rows(quarantine, reason="unparseable:unit_price")[0]
    assert (price["field"], price["raw_value"], price["unit_price"]) == ("unit_price", "4,25", "4,25")
    summary = {row["reason"]: row["rows"] for row in runs["day_2"]["gold.mart_quarantine_summary"].to_pylist()}
    assert summary == {**DAY_1_REASONS, "non_positive_price_sale": 2}


def test_silver_rows_and_line_types(runs: dict[str, Any]) -> None:
    silver_1 = runs["day_1"]["silver.order_lines"]
    assert sorted(row["_source_row"] for row in silver_1.to_pylist()) == [1, 2, 4, 5, 6, 7, 21, 22, 23, 24, 25]
    silver_2 = runs["day_2"]["silver.order_lines"]
    types: dict[str, int] = {}
    for row in silver_2.to_pylist():
        types[row["line_type"]] = types.get(row["line_type"], 0) + 1
    assert types == {"sale": 13, "cancellation": 2, "adjustment": 1}
    first = rows(silver_1, _source_row=1)[0]
    assert first["stock_code"] == "85123A" and first["description"] == "WHITE HANGING HEART"
    assert first["unit_price"] == Decimal("2.550") and first["currency"] == "GBP"
    assert rows(silver_1, _source_row=23)[0]["customer_id"] == "17850"  # '17850.0'
    assert rows(silver_1, _source_row=21)[0]["customer_id"] is None


def test_reconciliation(runs: dict[str, Any]) -> None:
    settings = runs["settings"]
    results = reconcile(settings, ["b1", "b2"])
    assert [(r.batch_id, r.bronze_rows, r.silver_rows, r.quarantine_rows) for r in results] == [
        ("b1", 25, 11, 14),
        ("b2", 6, 5, 1),
    ]
    assert_reconciled(results)
    ledger = {row["_batch_id"]: row for row in runs["day_2"]["silver.reconciliation_order_lines"].to_pylist()}
    assert (ledger["b1"]["bronze_rows"], ledger["b1"]["silver_rows"], ledger["b1"]["quarantine_rows"]) == (25, 11, 14)
    assert (ledger["b2"]["bronze_rows"], ledger["b2"]["silver_rows"], ledger["b2"]["quarantine_rows"]) == (6, 5, 1)
    with pytest.raises(ReconciliationError, match="b9"):
        assert_reconciled(reconcile(settings, ["b9"]) + [type(results[0])("b9", 3, 1, 1)])


def test_money_is_decimal(runs: dict[str, Any]) -> None:
    with duckdb.connect(str(runs["settings"].warehouse), read_only=True) as connection:
        types = dict(
            connection.execute(
                "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                "WHERE table_schema IN ('silver', 'gold')"
            ).fetchall()
        )
    money = [  # a line's money fits DECIMAL(18,3) (silver's contract)
        "order_lines.unit_price",
        "fct_order_line.unit_price",
        "fct_order_line.gross_amount",
        "fct_order_line.return_amount",
        "fct_order_line.net_amount",
    ]
    sums = [  # sums of lines (and their averages) are DECIMAL(38,3): they cannot overflow
        "fct_order.gross_amount",
        "fct_order.net_amount",
        "mart_revenue_daily.gross_sales",
        "mart_revenue_weekly.returns",
        "mart_revenue_monthly.net_revenue",
        "mart_revenue_quarterly.avg_order_value",
        "mart_top_products_by_season.revenue",
        "mart_customer_rfm.monetary",
        "mart_customer_purchase_history.net_amount",
    ]
    assert {name: types[name] for name in money} == {name: "DECIMAL(18,3)" for name in money}
    assert {name: types[name] for name in sums} == {name: "DECIMAL(38,3)" for name in sums}
    assert not [name for name, kind in types.items() if kind in ("DOUBLE", "FLOAT", "REAL")]


def test_revenue_marts_by_hand(runs: dict[str, Any]) -> None:
    def by_period(model: str, state: str = "day_2") -> dict[str, tuple[Any, ...]]:
        return {
            str(row["period_start"]): (
                row["gross_sales"], row["returns"], row["net_revenue"], row["orders"], row["customers"], row["avg_order_value"]
            )
            for row in runs[state][model].to_pylist()
        }

    D = Decimal
    assert by_period("gold.mart_revenue_daily", "day_1") == {
        "2010-12-01": (D("216.315"), D("27.500"), D("188.815"), 7, 3, D("30.902")),
    }
    assert by_period("gold.mart_revenue_daily") == {
        "2010-12-01": (D("231.615"), D("27.500"), D("204.115"), 7, 3, D("33.088")),
        "2010-12-02": (D("26.450"), D("5.100"), D("21.350"), 2, 2, D("13.225")),
    }
    assert by_period("gold.mart_revenue_weekly") == {  # Monday 2010-11-29
        "2010-11-29": (D("258.065"), D("32.600"), D("225.465"), 9, 3, D("28.674")),
    }
    assert by_period("gold.mart_revenue_monthly") == {
        "2010-12-01": (D("258.065"), D("32.600"), D("225.465"), 9, 3, D("28.674")),
    }
    assert by_period("gold.mart_revenue_quarterly") == {
        "2010-10-01": (D("258.065"), D("32.600"), D("225.465"), 9, 3, D("28.674")),
    }


def test_fct_order(runs: dict[str, Any]) -> None:
    orders = {row["invoice_no"]: row for row in runs["day_2"]["gold.fct_order"].to_pylist()}
    assert len(orders) == 12
    first = orders["536365"]  # two lines in b1 and one more in b2: recomputed as one invoice
    assert (first["lines"], first["items"], first["gross_amount"]) == (3, 18, Decimal("50.940"))
    assert orders["C536379"]["line_type"] == "cancellation"
    assert orders["C536379"]["return_amount"] == Decimal("27.500")
    assert orders["536392"]["customer_id"] == "unknown"
    adjustment = orders["A563185"]
    assert (adjustment["line_type"], adjustment["gross_amount"], adjustment["net_amount"]) == ("adjustment", 0, 0)


def test_scd2_customer_country_change(runs: dict[str, Any]) -> None:
    def versions(state: str, customer_id: str) -> list[tuple[Any, ...]]:
        table = runs[state]["gold.dim_customer"]
        return sorted(
            (str(r["valid_from"]), str(r["valid_to"]) if r["valid_to"] else None, r["country"], r["is_current"])
            for r in rows(table, customer_id=customer_id)
        )

    assert versions("day_1", "12583") == [("2010-12-01 08:45:00", None, FR, True)]
    assert versions("day_2", "12583") == [
        ("2010-12-01 08:45:00", "2010-12-02 09:00:00", FR, False),
        ("2010-12-02 09:00:00", None, DE, True),
    ]
    # A change inside one batch is two versions (what SCD_TYPE_2_BY_COLUMN would lose).
    assert versions("day_1", "13047") == [
        ("2010-12-01 13:00:00", "2010-12-01 14:00:00", UK, False),
        ("2010-12-01 14:00:00", None, EIRE, True),
    ]
    assert versions("day_2", "unknown") == [("1900-01-01 00:00:00", None, None, True)]
    dim = runs["day_2"]["gold.dim_customer"]
    v1 = rows(dim, customer_id="12583", country=FR)[0]
    v2 = rows(dim, customer_id="12583", country=DE)[0]
    assert v1["customer_sk"] == hashlib.md5(b"12583|2010-12-01 08:45:00").hexdigest()
    facts = runs["day_2"]["gold.fct_order_line"]
    assert {r["customer_sk"] for r in rows(facts, invoice_no="536370")} == {v1["customer_sk"]}
    assert {r["customer_sk"] for r in rows(facts, invoice_no="536400")} == {v2["customer_sk"]}
    unknown = rows(dim, customer_id="unknown")[0]["customer_sk"]
    assert {r["customer_sk"] for r in rows(facts, invoice_no="536392")} == {unknown}


def test_scd2_product_description(runs: dict[str, Any]) -> None:
    dim = runs["day_2"]["gold.dim_product"]

    def versions(stock_code: str) -> list[tuple[Any, ...]]:
        return sorted((str(r["valid_from"]), r["description"], r["is_current"]) for r in rows(dim, stock_code=stock_code))

    assert versions("22728") == [
        ("2010-12-01 08:45:00", "ALARM CLOCK BAKELIKE PINK", False),
        ("2010-12-02 09:00:00", "ALARM CLOCK BAKELIKE PINK NEW", True),
    ]
    assert versions("22633") == [("2010-12-01 08:28:00", "HAND WARMER UNION JACK", True)]  # NULL opens nothing
    flags = {r["stock_code"]: r["is_product"] for r in dim.to_pylist()}
    assert flags["POST"] is False and flags["D"] is False and flags["B"] is False and flags["22728"] is True


def test_other_marts(runs: dict[str, Any]) -> None:
    state = runs["day_2"]
    top = state["gold.mart_top_products_by_season"].to_pylist()
    assert {(r["season_year"], r["season"]) for r in top} == {(2011, "winter")}
    by_revenue = [(r["rank"], r["stock_code"], r["revenue"]) for r in top if r["ranking"] == "revenue"]
    assert sorted(by_revenue) == [
        (1, "22728", Decimal("112.500")),
        (2, "85123A", Decimal("36.500")),  # 41.600 sold, 5.100 cancelled: rankings are net
        (3, "22633", Decimal("27.750")),
        (4, "71053", Decimal("20.340")),
        (5, "16216", Decimal("1.875")),
    ]
    by_quantity = sorted((r["rank"], r["stock_code"], r["quantity"]) for r in top if r["ranking"] == "quantity")
    assert by_quantity == [(1, "22728", 30), (2, "16216", 15), (3, "22633", 15), (4, "85123A", 14), (5, "71053", 6)]
    assert rows(state["gold.mart_top_products_by_season"], stock_code="22728")[0]["description"] == "ALARM CLOCK BAKELIKE PINK NEW"

    cohort = state["gold.mart_cohort_retention"].to_pylist()
    assert [(str(r["cohort_month"]), r["months_since_first"], r["cohort_size"], r["retention"]) for r in cohort] == [
        ("2010-12-01", 0, 3, Decimal("1.0000"))
    ]
    rfm = {r["customer_id"]: r for r in state["gold.mart_customer_rfm"].to_pylist()}
    assert set(rfm) == {"17850", "12583", "13047"}  # 14527 only cancelled; 'unknown' is not a customer
    assert rfm["17850"]["frequency"] == 4 and rfm["17850"]["recency_days"] == 0
    assert rfm["17850"]["monetary"] == Decimal("81.090")  # 15.3*2 + 20.34 + 22.2 + 7.5 + 5.55 - 5.1
    assert rfm["13047"]["recency_days"] == 1
    assert all(r["segment"] for r in rfm.values())

    history = rows(state["gold.mart_customer_purchase_history"], customer_id="17850")
    assert [r["invoice_no"] for r in sorted(history, key=lambda r: r["order_rank"])] == [
        "536402", "C536401", "536393", "536366", "536365"
    ]

    dates = state["gold.dim_date"]
    assert dates.num_rows == 365
    first_dec = rows(dates, date_day=__import__("datetime").date(2010, 12, 1))[0]
    assert (first_dec["season"], first_dec["season_year"], first_dec["iso_week"], first_dec["day_name"]) == (
        "winter", 2011, 48, "Wednesday"
    )


def test_rerun_of_the_same_batch_changes_nothing(runs: dict[str, Any]) -> None:
    before, after = runs["day_2"], runs["day_2_again"]
    assert {m: checksum(t) for m, t in before.items()} == {m: checksum(t) for m, t in after.items()}
    assert before["gold.fct_order_line"].num_rows == 16
    late, idle = runs["late"], runs["idle"]
    assert {m: checksum(t) for m, t in late.items()} == {m: checksum(t) for m, t in idle.items()}


def test_table_names_point_at_deployed_tables(runs: dict[str, Any]) -> None:
    names = {name.model: name for name in table_names(runs["settings"])}
    assert set(names) == set(GOLD_TABLES + MARTS) | {"gold.mart_source_rows"}  # every published gold model
    daily = names["gold.mart_revenue_daily"]
    assert daily.virtual == '"warehouse"."gold"."mart_revenue_daily"'
    assert daily.physical.startswith('"warehouse"."sqlmesh__gold"."gold__mart_revenue_daily__')
    assert read_table(runs["settings"], daily.physical).num_rows == 3  # 2010-11-30 came late


def test_sqlmesh_unit_tests_pass(runs: dict[str, Any]) -> None:
    with open_context(runs["settings"]) as context:
        result = context.test()
    assert result.wasSuccessful(), [str(error) for _, error in result.failures + result.errors]
    assert result.testsRun >= 4


def test_models_transpile_to_spark(runs: dict[str, Any]) -> None:
    with open_context(runs["settings"]) as context:
        rendered = {name: context.render(name).sql(dialect="spark", comments=False).upper() for name in context.models}
    for name, spark in rendered.items():
        assert "TRY_STRPTIME" not in spark and "READ_PARQUET" not in spark, name
    staging = next(sql for name, sql in rendered.items() if name.endswith('"stg_order_lines"'))
    assert "TO_TIMESTAMP(`TRIMMED`.`INVOICE_DATE_TEXT`, 'M/D/YYYY H:MM')" in staging
    assert any("PARQUET.`" in sql for sql in rendered.values())


def test_missing_bronze_is_a_clear_error(tmp_path: Path) -> None:
    settings = TransformSettings(
        warehouse=tmp_path / "w.duckdb",
        variables={"bronze_order_lines": str(tmp_path / "none" / "*.parquet"), "pending_order_lines": str(tmp_path / "p.parquet")},
    )
    with pytest.raises(TransformError, match="bronze_order_lines matches no file"):
        transform(settings)


def test_late_batch_moves_a_version_start_and_keeps_the_old_row(runs: dict[str, Any]) -> None:
    dim = runs["late"]["gold.dim_customer"]
    versions = sorted(
        (str(r["valid_from"]), str(r["valid_to"]) if r["valid_to"] else None, r["country"], r["is_current"])
        for r in rows(dim, customer_id="12583")
    )
    assert versions == [
        ("2010-11-30 09:00:00", "2010-12-02 09:00:00", FR, False),
        # superseded: kept for the facts loaded with it, but matches no instant any more
        ("2010-12-01 08:45:00", "2010-12-01 08:45:00", FR, False),
        ("2010-12-02 09:00:00", None, DE, True),
    ]
    facts = runs["late"]["gold.fct_order_line"]
    old_sk = rows(dim, customer_id="12583", valid_from=__import__("datetime").datetime(2010, 12, 1, 8, 45))[0]["customer_sk"]
    assert {r["customer_sk"] for r in rows(facts, invoice_no="536370")} == {old_sk}
    new_sk = rows(dim, customer_id="12583", valid_from=__import__("datetime").datetime(2010, 11, 30, 9, 0))[0]["customer_sk"]
    assert {r["customer_sk"] for r in rows(facts, invoice_no="536300")} == {new_sk}
    assert sum(1 for r in dim.to_pylist() if r["is_current"] and r["customer_id"] == "12583") == 1
    assert reconcile(runs["settings"], ["b0"])[0].ok


def test_failed_model_is_named(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_batch(lake, "bad", DAY_1[:2], "2010-12-01 23:00:00")
    broken = pq.read_table(lake / "bronze" / "order_lines" / "bad.parquet").drop_columns(["country"])
    pq.write_table(broken, lake / "bronze" / "order_lines" / "bad.parquet")
    settings = TransformSettings(
        warehouse=tmp_path / "w.duckdb",
        variables={
            "bronze_order_lines": str(lake / "bronze" / "order_lines" / "*.parquet"),
            "pending_order_lines": str(lake / "_pipeline" / "pending" / "order_lines.parquet"),
        },
    )
    with pytest.raises(TransformError, match="bronze.order_lines") as raised:
        transform(settings)
    assert "country" in str(raised.value)
