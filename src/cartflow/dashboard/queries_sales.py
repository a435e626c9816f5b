"""Sales panels: headline numbers, revenue per week/month/quarter, hour and weekday
profiles, revenue by country.

Definitions are those of the revenue marts (docs/definitions.md): gross sales = sale
lines, returns = |cancellation lines|, net = gross - returns, orders = invoices with a
sale line, customers = known customers with a sale line. Unfiltered, the period charts
read the marts themselves; otherwise the same sums run over `cf_invoices` (cube.py),
which keeps order and customer counts exact distinct counts.
"""

from __future__ import annotations

from typing import Any

import duckdb

from cartflow.dashboard._sql import filtered, money_div, records
from cartflow.dashboard.filters import Filter

PERIODS = {"weekly": "week", "monthly": "month", "quarterly": "quarter"}

_SUMS = """
    SUM(gross_amount) AS gross_sales,
    SUM(return_amount) AS returns,
    SUM(net_amount) AS net_revenue,
    COUNT(DISTINCT CASE WHEN has_sale THEN inv END) AS orders,
    COUNT(DISTINCT CASE WHEN has_sale THEN cust END) AS customers"""

_AOV = money_div("SUM(gross_amount)", "COUNT(DISTINCT CASE WHEN has_sale THEN inv END)")
SOURCE = "cf_invoices"


def _lines(f: Filter) -> str:
    return filtered(f, table=SOURCE)


def kpis(con: duckdb.DuckDBPyConnection, f: Filter) -> dict[str, Any]:
    lines = _lines(f)
    rows = records(con, f"""
        SELECT {_SUMS},
               {_AOV} AS avg_order_value,
               SUM(lines) AS order_lines,
               MIN(invoice_date) AS first_date, MAX(invoice_date) AS last_date
        FROM {lines}""")
    return {"source": SOURCE, "values": rows[0]}


def revenue(con: duckdb.DuckDBPyConnection, f: Filter, period: str) -> dict[str, Any]:
    """One row per period start: gross, returns, net, orders, customers, AOV."""
    mart = f"mart_revenue_{period}"
    if f.is_all:
        rows = records(con, f"""
            SELECT period_start, gross_sales, returns, net_revenue, orders, customers, avg_order_value
            FROM {mart} ORDER BY period_start""")
        return {"source": mart, "period": period, "rows": rows}
    lines = _lines(f)
    rows = records(con, f"""
        SELECT CAST(DATE_TRUNC('{PERIODS[period]}', invoice_date) AS DATE) AS period_start, {_SUMS},
               {_AOV} AS avg_order_value
        FROM {lines} GROUP BY 1 ORDER BY 1""")
    return {"source": SOURCE, "period": period, "rows": rows}


def hourly(con: duckdb.DuckDBPyConnection, f: Filter) -> dict[str, Any]:
    """Average gross sales and orders per trading day, by hour of the invoice."""
    lines = _lines(f)
    rows = records(con, f"""
        WITH sales AS (SELECT invoice_date, hour, inv, gross_amount FROM {lines} WHERE has_sale),
        days AS (SELECT COUNT(DISTINCT invoice_date) AS n FROM sales)
        SELECT hour,
               ROUND(SUM(gross_amount) / ANY_VALUE(days.n), 2) AS avg_sales,
               ROUND(COUNT(DISTINCT inv) / ANY_VALUE(days.n), 2) AS avg_orders,
               ANY_VALUE(days.n) AS trading_days
        FROM sales CROSS JOIN days GROUP BY 1 ORDER BY 1""")
    return {"source": SOURCE, "rows": rows}


def weekday(con: duckdb.DuckDBPyConnection, f: Filter) -> dict[str, Any]:
    """Average gross sales and orders per trading day of each weekday (1 = Monday)."""
    lines = _lines(f)
    rows = records(con, f"""
        WITH sales AS (SELECT invoice_date, inv, gross_amount FROM {lines} WHERE has_sale)
        SELECT ISODOW(invoice_date) AS weekday,
               ROUND(SUM(gross_amount) / COUNT(DISTINCT invoice_date), 2) AS avg_sales,
               ROUND(COUNT(DISTINCT inv) / COUNT(DISTINCT invoice_date), 2) AS avg_orders,
               COUNT(DISTINCT invoice_date) AS trading_days
        FROM sales GROUP BY 1 ORDER BY 1""")
    return {"source": SOURCE, "rows": rows}


def countries(con: duckdb.DuckDBPyConnection, f: Filter) -> dict[str, Any]:
    """Every country's gross, returns, net and orders, largest net first."""
    lines = _lines(f)
    rows = records(con, f"""
        SELECT country, {_SUMS}
        FROM {lines} GROUP BY country ORDER BY net_revenue DESC, country""")
    return {"source": SOURCE, "rows": rows}
