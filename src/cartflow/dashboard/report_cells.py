"""The offline report's data: pre-aggregated cells the browser filters and sums.

A report is one HTML file with no server behind it, so its date-range and country
filter runs in the browser over cells embedded in the file, never raw rows. The date
filter of the report picks whole months, and every cell is at most month × country
(revenue at day × country, for the weekly chart and weekday averages), which keeps
each panel exact for any selection of months and countries:

* `days`: day × country — gross, returns, net (thousandths), orders, lines, trading flag
* `hours`: month × country × hour — gross, orders
* `products`: product × month × country — units, gross, lines (real products, sale lines)
* `customers`: known customer × month × country — sums, orders, invoice rows, last sale day
* `invoices`: the 10 largest invoices of each month × country (enough for any union)
* `quarantine`: reason × raw month × raw country — rows

Columns are arrays (one per field) with strings replaced by indexes into dictionaries,
and money in integer thousandths so sums in JavaScript stay exact.
"""

from __future__ import annotations

from typing import Any

import duckdb

MILLI = "CAST(ROUND({col} * 1000) AS BIGINT)"


def _columns(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, list[Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description or []]
    rows = cur.fetchall()
    return {n: [r[i] for r in rows] for i, n in enumerate(names)}


def _m(col: str) -> str:
    return MILLI.format(col=col)


def build_cells(con: duckdb.DuckDBPyConnection, tables: set[str]) -> dict[str, Any]:
    """Dictionaries and cell tables, JSON-ready, from the snapshot's cube tables."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE r_days AS
          SELECT DISTINCT invoice_date AS day FROM cf_invoices ORDER BY 1;
        CREATE OR REPLACE TEMP TABLE r_day_idx AS
          SELECT day, CAST(ROW_NUMBER() OVER (ORDER BY day) - 1 AS INT) AS i FROM r_days;
        CREATE OR REPLACE TEMP TABLE r_countries AS
          SELECT country, CAST(ROW_NUMBER() OVER (ORDER BY SUM(lines) DESC, country) - 1 AS INT) AS i
          FROM cf_invoices WHERE country IS NOT NULL GROUP BY country;
        CREATE OR REPLACE TEMP TABLE r_months AS
          SELECT month, CAST(ROW_NUMBER() OVER (ORDER BY month) - 1 AS INT) AS i
          FROM (SELECT DISTINCT CAST(DATE_TRUNC('month', day) AS DATE) AS month FROM r_days);
        CREATE OR REPLACE TEMP TABLE r_customers AS
          SELECT customer_id, CAST(ROW_NUMBER() OVER (ORDER BY customer_id) - 1 AS INT) AS i
          FROM (SELECT DISTINCT customer_id FROM cf_invoices WHERE customer_id <> 'unknown');
    """)
    month_of = "(SELECT i FROM r_months WHERE month = CAST(DATE_TRUNC('month', {d}) AS DATE))"
    cells: dict[str, Any] = {
        "days": [str(r[0]) for r in con.execute("SELECT day FROM r_day_idx ORDER BY i").fetchall()],
        "months": [str(r[0]) for r in con.execute("SELECT month FROM r_months ORDER BY i").fetchall()],
        "countries": [r[0] for r in con.execute("SELECT country FROM r_countries ORDER BY i").fetchall()],
        "customer_ids": [r[0] for r in con.execute("SELECT customer_id FROM r_customers ORDER BY i").fetchall()],
    }
    cells["day_cells"] = _columns(con, f"""
        SELECT d.i AS d, c.i AS c, {_m('SUM(gross_amount)')} AS gross, {_m('SUM(return_amount)')} AS returns,
               {_m('SUM(net_amount)')} AS net, COUNT(DISTINCT CASE WHEN has_sale THEN inv END) AS orders,
               SUM(lines) AS lines, CAST(BOOL_OR(has_sale) AS INT) AS trading
        FROM cf_invoices AS x JOIN r_day_idx AS d ON x.invoice_date = d.day JOIN r_countries AS c ON x.country = c.country
        GROUP BY d.i, c.i ORDER BY d.i, c.i""")
    cells["hour_cells"] = _columns(con, f"""
        SELECT {month_of.format(d='invoice_date')} AS m, c.i AS c, hour AS h, {_m('SUM(gross_amount)')} AS gross,
               COUNT(DISTINCT inv) AS orders
        FROM cf_invoices AS x JOIN r_countries AS c ON x.country = c.country
        WHERE has_sale GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")
    cells["customer_cells"] = _columns(con, f"""
        SELECT k.i AS k, {month_of.format(d='invoice_date')} AS m, c.i AS c,
               {_m('SUM(gross_amount)')} AS gross, {_m('SUM(return_amount)')} AS returns, {_m('SUM(net_amount)')} AS net,
               COUNT(DISTINCT CASE WHEN has_sale THEN inv END) AS orders, COUNT(*) AS rows,
               COALESCE(MAX(CASE WHEN has_sale THEN d.i END), -1) AS last_sale
        FROM cf_invoices AS x JOIN r_customers AS k ON x.customer_id = k.customer_id
        JOIN r_countries AS c ON x.country = c.country JOIN r_day_idx AS d ON x.invoice_date = d.day
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")
    if "cf_products_month" in tables:
        cells["products"] = _columns(con, """
            SELECT stock_code, description FROM cf_product_names
            WHERE stock_code IN (SELECT stock_code FROM cf_products_month) ORDER BY stock_code""")
        cells["product_cells"] = _columns(con, f"""
            WITH idx AS (SELECT stock_code, CAST(ROW_NUMBER() OVER (ORDER BY stock_code) - 1 AS INT) AS i
                         FROM cf_product_names WHERE stock_code IN (SELECT stock_code FROM cf_products_month))
            SELECT idx.i AS p, mo.i AS m, c.i AS c, CAST(quantity AS BIGINT) AS qty, {_m('revenue')} AS gross, lines
            FROM cf_products_month AS x JOIN idx ON x.stock_code = idx.stock_code
            JOIN r_months AS mo ON x.month = mo.month JOIN r_countries AS c ON x.country = c.country
            ORDER BY 2, 3, 1""")
    if "cf_orders" in tables:
        cells["invoice_cells"] = _columns(con, f"""
            WITH ranked AS (
              SELECT *, ROW_NUMBER() OVER (PARTITION BY DATE_TRUNC('month', invoice_date), country
                                           ORDER BY gross_amount DESC, invoice_no) AS n
              FROM cf_orders)
            SELECT invoice_no AS no, customer_id AS cust, d.i AS d, {month_of.format(d='invoice_date')} AS m, c.i AS c,
                   lines, items, {_m('gross_amount')} AS gross
            FROM ranked AS x JOIN r_day_idx AS d ON x.invoice_date = d.day JOIN r_countries AS c ON x.country = c.country
            WHERE n <= 10 ORDER BY gross DESC, invoice_no""")
    if "cf_quarantine" in tables:
        cells["reasons"] = [r[0] for r in con.execute("SELECT DISTINCT reason FROM cf_quarantine ORDER BY 1").fetchall()]
        cells["quarantine_cells"] = _columns(con, """
            SELECT (SELECT COUNT(*) FROM (SELECT DISTINCT reason FROM cf_quarantine) AS r WHERE r.reason < q.reason) AS r,
                   COALESCE((SELECT i FROM r_months WHERE month = CAST(DATE_TRUNC('month', raw_date) AS DATE)),
                            CASE WHEN raw_date IS NULL THEN -1 ELSE -2 END) AS m,
                   COALESCE(c.i, -1) AS c, CAST(SUM(rows) AS BIGINT) AS rows
            FROM cf_quarantine AS q LEFT JOIN r_countries AS c ON q.raw_country = c.country
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")
    return cells
