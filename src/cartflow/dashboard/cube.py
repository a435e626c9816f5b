"""Pre-aggregates built once per publication, so any filter is answered in milliseconds.

`fct_order_line` has one row per order line (5.4 M at scale 10): scanning it for each
panel of each request would take seconds. These tables keep every panel *exact* for
any date range and country set, at far fewer rows:

* `cf_invoices`: one row per invoice × customer × day × hour × country (about one per
  invoice) with its sums: order and customer counts stay exact distinct counts, taken
  over integer ids (`inv`, and `cust` in customer_id order, NULL for the unknown
  customer) because distinct integers count several times faster than strings.
* `cf_products_month` / `cf_products_day`: units and revenue of real products net of
  cancellations (sale and cancellation lines, as `mart_top_products_by_season` ranks
  them) per stock code and month (or day) and country; whole months of a range read the
  month table, only the partial months at its edges read the day table.
* `cf_orders`: the invoice fact, for the largest invoices.
* `cf_quarantine`: rejected rows per reason, raw date and raw country.

They live in an in-memory DuckDB next to the views over the published Parquet (the
marts are read from there, as published).
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta

import duckdb

from cartflow.dashboard.filters import Filter

#: raw date formats tried on quarantined rows: the Kaggle export's, then ISO spellings
RAW_DATE_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                    "%Y-%m-%d %H:%M", "%Y-%m-%d", "%d.%m.%Y %H:%M")

INVOICES = """
CREATE TABLE cf_invoices AS
WITH cells AS (
  SELECT invoice_no, customer_id, invoice_date, CAST(HOUR(invoice_ts) AS INT) AS hour, country,
         BOOL_OR(is_sale) AS has_sale,
         SUM(gross_amount) AS gross_amount, SUM(return_amount) AS return_amount, SUM(net_amount) AS net_amount,
         COUNT(*) AS lines, SUM(CASE WHEN is_sale THEN quantity ELSE 0 END) AS items
  FROM fct_order_line
  GROUP BY invoice_no, customer_id, invoice_date, HOUR(invoice_ts), country)
SELECT CAST(DENSE_RANK() OVER (ORDER BY invoice_no) AS INT) AS inv,
       CASE WHEN customer_id <> 'unknown' THEN CAST(DENSE_RANK() OVER (ORDER BY customer_id) AS INT) END AS cust,
       cells.*
FROM cells
ORDER BY invoice_date, country"""

PRODUCTS_DAY = """
CREATE TABLE cf_products_day AS
SELECT l.stock_code, l.invoice_date, l.country,
       SUM(l.quantity) AS quantity, SUM(l.net_amount) AS revenue, COUNT(*) AS lines
FROM fct_order_line AS l
INNER JOIN cf_product_names AS p ON l.stock_code = p.stock_code
WHERE l.is_sale OR l.line_type = 'cancellation'
GROUP BY l.stock_code, l.invoice_date, l.country
ORDER BY l.invoice_date, l.country"""

PRODUCTS_MONTH = """
CREATE TABLE cf_products_month AS
SELECT stock_code, CAST(DATE_TRUNC('month', invoice_date) AS DATE) AS month, country,
       SUM(quantity) AS quantity, SUM(revenue) AS revenue, SUM(lines) AS lines
FROM cf_products_day GROUP BY ALL ORDER BY month, country"""

PRODUCT_NAMES = """
CREATE TABLE cf_product_names AS
SELECT stock_code, description FROM dim_product WHERE is_current AND is_product"""

ORDERS = """
CREATE TABLE cf_orders AS
SELECT invoice_no, customer_id, country, invoice_date, lines, items, gross_amount
FROM fct_order WHERE gross_amount > 0"""

QUARANTINE = """
CREATE TABLE cf_quarantine AS
SELECT reason, CAST(TRY_STRPTIME(TRIM(invoice_date), {formats}) AS DATE) AS raw_date,
       TRIM(country) AS raw_country, COUNT(*) AS rows
FROM quarantine_order_lines GROUP BY ALL"""

#: built in this order: later ones read earlier ones
STEPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("cf_invoices", INVOICES, ("fct_order_line",)),
    ("cf_product_names", PRODUCT_NAMES, ("dim_product",)),
    ("cf_products_day", PRODUCTS_DAY, ("fct_order_line", "dim_product")),
    ("cf_products_month", PRODUCTS_MONTH, ("fct_order_line", "dim_product")),
    ("cf_orders", ORDERS, ("fct_order",)),
    ("cf_quarantine", QUARANTINE.format(formats="[" + ", ".join(f"'{f}'" for f in RAW_DATE_FORMATS) + "]"),
     ("quarantine_order_lines",)),
)


def build_cube(con: duckdb.DuckDBPyConnection, tables: set[str]) -> set[str]:
    """Create every pre-aggregate whose source tables are published; return their names."""
    built: set[str] = set()
    for name, sql, needs in STEPS:
        if all(t in tables for t in needs):
            con.execute(sql)
            built.add(name)
    return built


def _next_month(d: date) -> date:
    return (d.replace(day=1) + timedelta(days=32)).replace(day=1)


def product_cells(f: Filter) -> str:
    """A subquery of product cells (stock_code, month, country, quantity, revenue, lines)
    covering exactly the filter: month rows for whole months, day rows for the rest."""
    countries = Filter(countries=f.countries).where("NULL", "country")
    start, end = f.date_from, f.date_to
    # the first and last whole month inside the range (None: unbounded on that side)
    full_from = None if start is None else (start if start.day == 1 else _next_month(start))
    full_to = None
    if end is not None:
        last_day = monthrange(end.year, end.month)[1]
        full_to = end.replace(day=1) if end.day == last_day else (end.replace(day=1) - timedelta(days=1)).replace(day=1)
    day_sql = ("SELECT stock_code, CAST(DATE_TRUNC('month', invoice_date) AS DATE) AS month, country, "
               "quantity, revenue, lines FROM cf_products_day WHERE {cond} AND " + countries)
    if full_from is not None and full_to is not None and full_from > full_to:  # no whole month inside
        return f"({day_sql.format(cond=Filter(start, end).where('invoice_date', 'NULL'))})"
    months = Filter(full_from, full_to).where("month", "NULL")
    parts = [f"SELECT stock_code, month, country, quantity, revenue, lines FROM cf_products_month "
             f"WHERE {months} AND {countries}"]
    if start is not None and full_from is not None and start < full_from:
        parts.append(day_sql.format(cond=Filter(start, full_from - timedelta(days=1)).where("invoice_date", "NULL")))
    if end is not None and full_to is not None and end >= _next_month(full_to):
        parts.append(day_sql.format(cond=Filter(_next_month(full_to), end).where("invoice_date", "NULL")))
    return "(" + "\nUNION ALL\n".join(parts) + ")"
