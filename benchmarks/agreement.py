"""Do two implementations of the batch job produce the same outputs? And their headline figures.

The benchmark compares times only between implementations that did the same work, so it
checks the work too: `differences(pandas_out, duckdb_job_out)` lists every silver line,
quarantine reason and mart figure on which two output directories disagree (money within
half a tenth of a penny, because the pandas baseline keeps money as float64); `digest(out)`
is the handful of figures docs/benchmarks.md prints. Both read what the job wrote, a
Parquet file `NAME.parquet` or a directory of part files `NAME/` (PySpark), or the marts a
cartflow project published, with DuckDB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

OUTPUTS = ("order_lines", "quarantine_order_lines", "mart_revenue_monthly", "mart_top_products_by_season",
           "mart_customer_rfm")
MONEY_TOLERANCE = 0.0005


MARTS = OUTPUTS[2:]


def job_outputs(out: Path) -> dict[str, Path]:
    """What a baseline wrote: `NAME.parquet`, or a directory of part files `NAME/` (PySpark)."""
    found = {}
    for name in OUTPUTS:
        single, parts = out / f"{name}.parquet", out / name
        if single.exists():
            found[name] = single
        elif parts.is_dir():
            found[name] = parts / "*.parquet"
    return found


def cartflow_outputs(project: Path) -> dict[str, Path]:
    """The marts a local cartflow project published (`<project>/lake/marts/<name>/data.parquet`)."""
    return {name: project / "lake" / "marts" / name / "data.parquet" for name in MARTS
            if (project / "lake" / "marts" / name / "data.parquet").exists()}


def _as_files(where: Path | dict[str, Path]) -> dict[str, Path]:
    return where if isinstance(where, dict) else job_outputs(Path(where))


def _connect(**sides: Path | dict[str, Path]) -> duckdb.DuckDBPyConnection:
    """One view per output and side: `<prefix>_<output>`, e.g. `a_order_lines`."""
    con = duckdb.connect()
    for prefix, where in sides.items():
        for name, path in _as_files(where).items():
            literal = "'" + str(path).replace("'", "''") + "'"
            con.execute(f"CREATE VIEW {prefix}_{name} AS SELECT * FROM read_parquet({literal})")
    return con


def digest(where: Path | dict[str, Path]) -> dict[str, Any]:
    """The figures a reader checks first: row counts, the revenue totals, the marts' sizes.

    `where` is a baseline's output directory or a {output: Parquet path} map (cartflow_outputs);
    figures of outputs that are not there are left out.
    """
    files = _as_files(where)
    con = _connect(o=files)
    try:
        one = lambda sql: con.execute(sql).fetchone()  # noqa: E731
        figures: dict[str, Any] = {}
        for name, key in (("order_lines", "silver_rows"), ("quarantine_order_lines", "quarantine_rows"),
                          ("mart_top_products_by_season", "top_products_rows"), ("mart_customer_rfm", "rfm_customers")):
            if name in files:
                figures[key] = one(f"SELECT count(*) FROM o_{name}")[0]
        if "mart_revenue_monthly" in files:
            months, gross, returns, net, orders = one(
                "SELECT count(*), sum(gross_sales), sum(returns), sum(net_revenue), sum(orders) "
                "FROM o_mart_revenue_monthly")
            figures.update({"months": months, "gross_sales": round(float(gross or 0), 2),
                            "returns": round(float(returns or 0), 2), "net_revenue": round(float(net or 0), 2),
                            "orders": int(orders or 0)})
        if "mart_customer_rfm" in files:
            figures["segments"] = dict(con.execute(
                "SELECT segment, count(*) FROM o_mart_customer_rfm GROUP BY 1 ORDER BY 2 DESC, 1").fetchall())
        return figures
    finally:
        con.close()


# Each check: a name and a query over views a_* (expected) and b_* (actual) that returns the
# disagreeing rows (at most 5 are quoted).
_CHECKS = (
    ("order_lines (key, values)", """
        WITH a AS (SELECT * FROM a_order_lines), b AS (SELECT * FROM b_order_lines)
        SELECT coalesce(a._source_file, b._source_file) AS file, coalesce(a._source_row, b._source_row) AS row,
               a.invoice_no IS NULL AS only_in_b, b.invoice_no IS NULL AS only_in_a
        FROM a FULL JOIN b ON a._source_file = b._source_file AND a._source_row = b._source_row
        WHERE a._source_row IS NULL OR b._source_row IS NULL
           OR a.invoice_no IS DISTINCT FROM b.invoice_no OR a.stock_code IS DISTINCT FROM b.stock_code
           OR a.description IS DISTINCT FROM b.description OR a.quantity IS DISTINCT FROM b.quantity
           OR abs(a.unit_price::DOUBLE - b.unit_price::DOUBLE) > {tol}
           OR a.invoice_ts::TIMESTAMP IS DISTINCT FROM b.invoice_ts::TIMESTAMP
           OR a.invoice_date::DATE IS DISTINCT FROM b.invoice_date::DATE
           OR a.customer_id IS DISTINCT FROM b.customer_id OR a.country IS DISTINCT FROM b.country
           OR a.line_type IS DISTINCT FROM b.line_type
        ORDER BY 1, 2"""),
    ("quarantine_order_lines (row, reason, field)", """
        WITH a AS (SELECT * FROM a_quarantine_order_lines), b AS (SELECT * FROM b_quarantine_order_lines)
        SELECT coalesce(a._source_file, b._source_file) AS file, coalesce(a._source_row, b._source_row) AS row,
               a.reason AS expected, b.reason AS actual
        FROM a FULL JOIN b ON a._source_file = b._source_file AND a._source_row = b._source_row
        WHERE a.reason IS DISTINCT FROM b.reason OR nullif(a.field, '') IS DISTINCT FROM nullif(b.field, '')
        ORDER BY 1, 2"""),
    ("mart_revenue_monthly", """
        WITH a AS (SELECT * FROM a_mart_revenue_monthly), b AS (SELECT * FROM b_mart_revenue_monthly)
        SELECT coalesce(a.period_start::DATE, b.period_start::DATE) AS period,
               a.net_revenue AS expected_net, b.net_revenue AS actual_net
        FROM a FULL JOIN b ON a.period_start::DATE = b.period_start::DATE
        WHERE a.period_start IS NULL OR b.period_start IS NULL
           OR abs(a.gross_sales::DOUBLE - b.gross_sales::DOUBLE) > {tol}
           OR abs(a.returns::DOUBLE - b.returns::DOUBLE) > {tol}
           OR abs(a.net_revenue::DOUBLE - b.net_revenue::DOUBLE) > {tol}
           OR a.orders IS DISTINCT FROM b.orders OR a.customers IS DISTINCT FROM b.customers
           OR abs(coalesce(a.avg_order_value::DOUBLE, -1) - coalesce(b.avg_order_value::DOUBLE, -1)) > 0.0011
        ORDER BY 1"""),
    ("mart_top_products_by_season", """
        WITH a AS (SELECT * FROM a_mart_top_products_by_season), b AS (SELECT * FROM b_mart_top_products_by_season)
        SELECT coalesce(a.season_year, b.season_year) AS season_year, coalesce(a.season, b.season) AS season,
               coalesce(a.ranking, b.ranking) AS ranking, coalesce(a.rank, b.rank) AS rank,
               a.stock_code AS expected, b.stock_code AS actual
        FROM a FULL JOIN b ON a.season_year = b.season_year AND a.season = b.season
          AND a.ranking = b.ranking AND a.rank = b.rank
        WHERE a.rank IS NULL OR b.rank IS NULL OR a.stock_code IS DISTINCT FROM b.stock_code
           OR a.description IS DISTINCT FROM b.description OR a.quantity IS DISTINCT FROM b.quantity
           OR abs(a.revenue::DOUBLE - b.revenue::DOUBLE) > {tol}
        ORDER BY 1, 2, 3, 4"""),
    ("mart_customer_rfm", """
        WITH a AS (SELECT * FROM a_mart_customer_rfm), b AS (SELECT * FROM b_mart_customer_rfm)
        SELECT coalesce(a.customer_id, b.customer_id) AS customer, a.rfm_score AS expected, b.rfm_score AS actual
        FROM a FULL JOIN b ON a.customer_id = b.customer_id
        WHERE a.customer_id IS NULL OR b.customer_id IS NULL
           OR a.last_purchase_date::DATE IS DISTINCT FROM b.last_purchase_date::DATE
           OR a.recency_days IS DISTINCT FROM b.recency_days OR a.frequency IS DISTINCT FROM b.frequency
           OR abs(a.monetary::DOUBLE - b.monetary::DOUBLE) > {tol}
           OR a.rfm_score IS DISTINCT FROM b.rfm_score OR a.segment IS DISTINCT FROM b.segment
        ORDER BY 1"""),
)


def differences(expected: Path | dict[str, Path], actual: Path | dict[str, Path],
                tolerance: float = MONEY_TOLERANCE) -> list[str]:
    """One line per output on which the two sides disagree, quoting the first rows; [] = same.

    Only outputs both sides have are compared (cartflow publishes the marts, not its silver
    Parquet); `checked(expected, actual)` names them.
    """
    con = _connect(a=expected, b=actual)
    try:
        found = []
        for name, sql in _CHECKS:
            if name.split(" ")[0] not in checked(expected, actual):
                continue
            rows = con.execute(f"SELECT count(*) FROM ({sql.format(tol=tolerance)})").fetchone()[0]
            if rows:
                sample = con.execute(sql.format(tol=tolerance) + " LIMIT 5").fetchall()
                found.append(f"{name}: {rows:,} row(s) differ, e.g. {sample}")
        return found
    finally:
        con.close()


def checked(expected: Path | dict[str, Path], actual: Path | dict[str, Path]) -> list[str]:
    """The outputs `differences` compares: those both sides wrote."""
    both = set(_as_files(expected)) & set(_as_files(actual))
    return [name for name in OUTPUTS if name in both]
