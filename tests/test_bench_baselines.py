"""The benchmark baselines do the same job: pandas and the DuckDB same-job script agree.

docs/benchmarks.md reports cartflow against the pandas baseline and against the DuckDB
same-job baseline; a ratio between two jobs means something only if both jobs produce the
same silver lines, quarantine reasons and mart figures. Tiny generated data plus a file
that trips every one of the 14 rules of docs/data-rules.md, in both implementations.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cartflow.sandbox.retail_generator import generate_online_retail
from conftest import write_csv

ROOT = Path(__file__).resolve().parent.parent

# One row per rule (and the good rows that look bad), in a second file of the same job.
EDGE_ROWS = [
    ",85123A,MISSING INVOICE,1,12/1/2010 8:26,2.55,17850,United Kingdom",
    "590001,,MISSING STOCK,1,12/1/2010 8:26,2.55,17850,United Kingdom",
    "590002,85123A,MISSING QUANTITY,  ,12/1/2010 8:26,2.55,17850,United Kingdom",
    "590003,85123A,MISSING DATE,1,,2.55,17850,United Kingdom",
    "590004,85123A,MISSING PRICE,1,12/1/2010 8:26,,17850,United Kingdom",
    "590005,85123A,HALF AN ITEM,1.5,12/1/2010 8:26,2.55,17850,United Kingdom",
    '590006,85123A,DECIMAL COMMA,1,12/1/2010 8:26,"4,25",17850,United Kingdom',
    "590007,85123A,ISO DATE,1,2010-12-01 08:26,2.55,17850,United Kingdom",
    "590008,85123A,TEXT CUSTOMER,1,12/1/2010 8:26,2.55,abc,United Kingdom",
    "590009,85123A,NEGATIVE CUSTOMER,1,12/1/2010 8:26,2.55,-5,United Kingdom",
    "590010,85123A,COPIED LINE,2,12/2/2010 9:00,2.55,17850,United Kingdom",
    "590010,85123A,COPIED LINE,2,12/2/2010 9:00,2.55,17850,United Kingdom",
    "590011,85123A,STOCK NOTE,-3,12/2/2010 9:00,0,,United Kingdom",
    "590012,85123A,NOTHING,0,12/2/2010 9:00,2.55,17850,United Kingdom",
    "590013,85123A,FREE,1,12/2/2010 9:00,0,17850,United Kingdom",
    "C590014,85123A,POSITIVE CANCEL,2,12/2/2010 9:00,2.55,17850,United Kingdom",
    # good rows: lower-case code, padded fields, float customer id, cancellation, adjustment, no customer
    "590015,85123a,  LOWER CASE CODE  ,  3 ,12/3/2010 10:15,2.55,17850.0,United Kingdom",
    "C590016,85123A,CANCELLED,-1,12/3/2010 10:15,2.55,17850,United Kingdom",
    "A590017,B,Adjust bad debt,1,12/3/2010 10:15,-11062.06,,United Kingdom",
    "590018,22423,NO CUSTOMER,2,12/3/2010 10:15,12.75,,France",
]
EVERY_REASON = {
    "missing_field:invoice_no", "missing_field:stock_code", "missing_field:quantity",
    "missing_field:invoice_date", "missing_field:unit_price", "unparseable:quantity",
    "unparseable:unit_price", "unparseable:invoice_date", "unparseable:customer_id", "duplicate_row",
    "stock_note", "zero_quantity", "non_positive_price_sale", "cancellation_positive_quantity",
}


@pytest.fixture
def benchmarks(monkeypatch: pytest.MonkeyPatch):
    """The benchmarks package lives beside src/, not in the installed wheel."""
    monkeypatch.syspath_prepend(str(ROOT))
    import benchmarks.agreement
    import benchmarks.impl_duckdb_job
    import benchmarks.impl_pandas

    return benchmarks


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-data")
    generate_online_retail(out, 0.02, 7)
    # a row copied from the generated file into another file is not a duplicate (other batch)
    first_line = (out / "online_retail.csv").read_bytes().decode("latin-1").splitlines()[1]
    write_csv(out / "online_retail_zz_edges.csv", [*EDGE_ROWS, first_line])
    return out


def run_both(benchmarks, csv_dir: Path, tmp_path: Path) -> tuple[Path, Path, dict, dict]:
    pandas_out, duckdb_out = tmp_path / "pandas", tmp_path / "duckdb"
    benchmarks.impl_pandas.main(str(csv_dir), str(pandas_out))
    job = benchmarks.impl_duckdb_job.main(str(csv_dir), str(duckdb_out))
    return pandas_out, duckdb_out, benchmarks.agreement.digest(pandas_out), job


def test_duckdb_job_matches_pandas_line_for_line(benchmarks, csv_dir: Path, tmp_path: Path) -> None:
    pandas_out, duckdb_out, pandas_digest, job = run_both(benchmarks, csv_dir, tmp_path)

    assert benchmarks.agreement.differences(pandas_out, duckdb_out) == []
    assert benchmarks.agreement.digest(duckdb_out) == pandas_digest
    # every rule fired, and nothing was lost: raw = silver + quarantine
    assert EVERY_REASON <= set(job["quarantine"])
    assert job["raw_rows"] == job["silver_rows"] + job["quarantine_rows"]
    assert pandas_digest["silver_rows"] == job["silver_rows"] > 0
    assert pandas_digest["rfm_customers"] > 0 and pandas_digest["months"] > 0


def test_the_duckdb_job_keeps_the_good_edge_rows(benchmarks, csv_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "duckdb"
    benchmarks.impl_duckdb_job.main(str(csv_dir), str(out))
    import duckdb

    rows = duckdb.sql(
        f"SELECT invoice_no, stock_code, description, quantity, customer_id, line_type, _source_row "
        f"FROM '{out / 'order_lines.parquet'}' WHERE _source_file = 'online_retail_zz_edges.csv' ORDER BY _source_row"
    ).fetchall()
    assert rows == [
        ("590010", "85123A", "COPIED LINE", 2, "17850", "sale", 11),  # the first copy stays
        ("590015", "85123A", "LOWER CASE CODE", 3, "17850", "sale", 17),
        ("C590016", "85123A", "CANCELLED", -1, "17850", "cancellation", 18),
        ("A590017", "B", "Adjust bad debt", 1, None, "adjustment", 19),
        ("590018", "22423", "NO CUSTOMER", 2, None, "sale", 20),
        rows[-1],  # the generated file's first line, copied into this file: kept
    ]
    assert rows[-1][-1] == 21


def test_the_comparison_sees_a_changed_figure(benchmarks, csv_dir: Path, tmp_path: Path) -> None:
    """`differences` is what makes the agreement checks above mean something: it must catch one wrong mart row."""
    pandas_out, duckdb_out, _, _ = run_both(benchmarks, csv_dir, tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(duckdb_out, broken)
    import duckdb

    rfm = broken / "mart_customer_rfm.parquet"
    duckdb.sql(f"COPY (SELECT * REPLACE (CASE WHEN customer_id = (SELECT min(customer_id) FROM '{rfm}') "
               f"THEN 'Nobody' ELSE segment END AS segment) FROM '{rfm}') TO '{tmp_path / 'rfm.parquet'}'")
    shutil.move(tmp_path / "rfm.parquet", rfm)
    monthly = broken / "mart_revenue_monthly.parquet"
    duckdb.sql(f"COPY (SELECT * REPLACE (net_revenue + 0.01 AS net_revenue) FROM '{monthly}') "
               f"TO '{tmp_path / 'monthly.parquet'}'")
    shutil.move(tmp_path / "monthly.parquet", monthly)

    found = benchmarks.agreement.differences(pandas_out, broken)
    assert [line.split(":")[0] for line in found] == ["mart_revenue_monthly", "mart_customer_rfm"]
