"""Customer panels: highest-grossing customers, largest invoices, RFM segments and
monthly cohort retention.

RFM and cohorts read their marts as published when nothing is filtered. Filtered, the
marts' own rules run over the filtered lines: RFM scores are quintiles *within the
selection* (recency counted to its last invoice date); a cohort is the month of a
customer's first sale in the selected countries (over all time, so a filter never
turns a returning customer into a new one), shown for cohorts starting in the date
range with activity up to its end.
"""

from __future__ import annotations

from typing import Any

import duckdb

from cartflow.dashboard._sql import filtered, records
from cartflow.dashboard.filters import Filter

SOURCE = "cf_invoices"

TOP_N = 10
SEGMENTS = ("Champions", "Loyal", "Potential loyalist", "New", "Need attention",
            "At risk", "Hibernating", "Lost")


def top_customers(con: duckdb.DuckDBPyConnection, f: Filter) -> dict[str, Any]:
    """Top 10 known customers by gross sales; their country is where they ordered most often
    (ties: the first by name). Details are computed for the ten only."""
    lines = filtered(f, table=SOURCE)
    rows = records(con, f"""
        WITH sel AS (SELECT * FROM {lines} WHERE cust IS NOT NULL),
        top AS (
          SELECT cust, SUM(gross_amount) AS gross_sales, SUM(return_amount) AS returns, SUM(net_amount) AS net_revenue
          FROM sel GROUP BY cust HAVING SUM(gross_amount) > 0
          ORDER BY gross_sales DESC, cust LIMIT {TOP_N}),
        detail AS (
          SELECT sel.cust, ANY_VALUE(sel.customer_id) AS customer_id,
                 COUNT(DISTINCT CASE WHEN has_sale THEN inv END) AS orders
          FROM sel INNER JOIN top ON sel.cust = top.cust GROUP BY sel.cust),
        home AS (
          SELECT sel.cust, sel.country,
                 ROW_NUMBER() OVER (PARTITION BY sel.cust ORDER BY COUNT(*) DESC, sel.country) AS n
          FROM sel INNER JOIN top ON sel.cust = top.cust GROUP BY sel.cust, sel.country)
        SELECT detail.customer_id, home.country, top.gross_sales, top.returns, top.net_revenue, detail.orders
        FROM top INNER JOIN detail ON top.cust = detail.cust
        INNER JOIN home ON top.cust = home.cust AND home.n = 1
        ORDER BY top.gross_sales DESC, top.cust""")
    return {"source": SOURCE, "rows": rows}


def largest_invoices(con: duckdb.DuckDBPyConnection, f: Filter) -> dict[str, Any]:
    orders = filtered(f, table="cf_orders", alias="o")
    rows = records(con, f"""
        SELECT invoice_no, customer_id, country, invoice_date, lines, items, gross_amount
        FROM {orders} ORDER BY gross_amount DESC, invoice_no LIMIT {TOP_N}""")
    return {"source": "fct_order", "rows": rows}


_RFM_SUMMARY = """
    SELECT segment, COUNT(*) AS customers, SUM(monetary) AS monetary,
           ROUND(AVG(recency_days), 1) AS avg_recency_days, ROUND(AVG(frequency), 2) AS avg_frequency
    FROM {scored} GROUP BY segment"""


def rfm(con: duckdb.DuckDBPyConnection, f: Filter) -> dict[str, Any]:
    """Customers, total net value, mean recency and frequency per RFM segment."""
    if f.is_all:
        rows = records(con, _RFM_SUMMARY.format(scored="mart_customer_rfm"))
        source = "mart_customer_rfm"
    else:
        lines = filtered(f, table=SOURCE)
        rows = records(con, _RFM_SUMMARY.format(scored=f"""(
            WITH order_lines AS (SELECT cust, inv, invoice_date, has_sale, net_amount FROM {lines}),
            reference_date AS (SELECT MAX(invoice_date) AS last_invoice_date FROM order_lines),
            customer_totals AS (
              SELECT cust, MAX(CASE WHEN has_sale THEN invoice_date END) AS last_purchase_date,
                     COUNT(DISTINCT CASE WHEN has_sale THEN inv END) AS frequency,
                     SUM(net_amount) AS monetary
              FROM order_lines WHERE cust IS NOT NULL GROUP BY cust),
            measured AS (
              SELECT t.*, DATE_DIFF('day', t.last_purchase_date, r.last_invoice_date) AS recency_days
              FROM customer_totals AS t CROSS JOIN reference_date AS r WHERE t.frequency > 0),
            scored AS (
              SELECT *, NTILE(5) OVER (ORDER BY recency_days DESC, cust) AS r,
                        NTILE(5) OVER (ORDER BY frequency, cust) AS fq,
                        NTILE(5) OVER (ORDER BY monetary, cust) AS m
              FROM measured)
            SELECT *, CASE
                WHEN r >= 4 AND fq >= 4 AND m >= 4 THEN 'Champions'
                WHEN r >= 3 AND fq >= 4 THEN 'Loyal'
                WHEN r >= 4 AND fq = 1 THEN 'New'
                WHEN r >= 4 THEN 'Potential loyalist'
                WHEN r <= 2 AND fq >= 3 THEN 'At risk'
                WHEN r = 3 THEN 'Need attention'
                WHEN r = 1 AND fq = 1 THEN 'Lost'
                ELSE 'Hibernating' END AS segment
            FROM scored)"""))
        source = SOURCE
    order = {s: i for i, s in enumerate(SEGMENTS)}
    rows.sort(key=lambda r: order.get(r["segment"], len(order)))
    return {"source": source, "rows": rows}


def cohorts(con: duckdb.DuckDBPyConnection, f: Filter) -> dict[str, Any]:
    """Cohort month × months since first sale: cohort size, active customers, retention."""
    columns = "cohort_month, months_since_first, cohort_size, active_customers, retention"
    if f.is_all:
        return {"source": "mart_cohort_retention",
                "rows": records(con, f"SELECT {columns} FROM mart_cohort_retention ORDER BY 1, 2")}
    lines = filtered(Filter(countries=f.countries), table=SOURCE)
    # a cohort is shown when its month overlaps the date range; activity up to its end
    first_month = f.date_from.replace(day=1) if f.date_from else None
    window = Filter(first_month, f.date_to).where("cohort_month", "NULL")
    upper = Filter(date_to=f.date_to).where("activity_month", "NULL")
    rows = records(con, f"""
        WITH customer_months AS (
          SELECT DISTINCT cust, CAST(DATE_TRUNC('month', invoice_date) AS DATE) AS activity_month
          FROM {lines} WHERE has_sale AND cust IS NOT NULL),
        firsts AS (SELECT cust, MIN(activity_month) AS cohort_month FROM customer_months GROUP BY 1),
        chosen AS (SELECT * FROM firsts WHERE {window}),
        sizes AS (SELECT cohort_month, COUNT(*) AS cohort_size FROM chosen GROUP BY 1),
        activity AS (
          SELECT c.cohort_month,
                 (YEAR(m.activity_month) - YEAR(c.cohort_month)) * 12
                   + MONTH(m.activity_month) - MONTH(c.cohort_month) AS months_since_first,
                 COUNT(*) AS active_customers
          FROM customer_months AS m INNER JOIN chosen AS c ON m.cust = c.cust
          WHERE {upper} GROUP BY 1, 2)
        SELECT a.cohort_month, a.months_since_first, s.cohort_size, a.active_customers,
               CAST(CAST(a.active_customers AS DECIMAL(18, 4)) / s.cohort_size AS DECIMAL(9, 4)) AS retention
        FROM activity AS a INNER JOIN sizes AS s ON a.cohort_month = s.cohort_month
        ORDER BY 1, 2""")
    return {"source": SOURCE, "rows": rows}
