"""Product panels: the most sold and most valuable products, and the top products of
each meteorological season.

The rules of `mart_top_products_by_season`, which the season panel reads as published
when nothing is filtered: real products only (`dim_product.is_product`: postage, fees
and vouchers are not products), net of cancellations (units sold minus units cancelled,
revenue = net amount: a cancelled order does not make a product popular), described by
their current description, ties broken by stock code. Seasons are meteorological (DJF
winter, December counting towards the next year's winter), as in `dim_date`.
"""

from __future__ import annotations

from typing import Any

import duckdb

from cartflow.dashboard._sql import records
from cartflow.dashboard.cube import product_cells
from cartflow.dashboard.filters import Filter

TOP_N = 10
SOURCE = "cf_products"


def top_products(con: duckdb.DuckDBPyConnection, f: Filter) -> dict[str, Any]:
    """The top 10 by quantity sold and the top 10 by gross revenue, in one scan."""
    rows = records(con, f"""
        WITH totals AS (
          SELECT c.stock_code, ANY_VALUE(n.description) AS description,
                 SUM(c.quantity) AS quantity, SUM(c.revenue) AS revenue, SUM(c.lines) AS lines
          FROM {product_cells(f)} AS c INNER JOIN cf_product_names AS n ON c.stock_code = n.stock_code
          GROUP BY c.stock_code),
        ranked AS (
          SELECT *, ROW_NUMBER() OVER (ORDER BY quantity DESC, stock_code) AS quantity_rank,
                    ROW_NUMBER() OVER (ORDER BY revenue DESC, stock_code) AS revenue_rank
          FROM totals)
        SELECT * FROM ranked WHERE quantity_rank <= {TOP_N} OR revenue_rank <= {TOP_N}""")
    by = {k: [{c: v for c, v in r.items() if not c.endswith("_rank")}
              for r in sorted((r for r in rows if r[f"{k}_rank"] <= TOP_N), key=lambda r: r[f"{k}_rank"])]
          for k in ("quantity", "revenue")}
    return {"source": SOURCE, "most_sold": by["quantity"], "most_valuable": by["revenue"]}


_ORDER = ("ORDER BY season_year, CASE season WHEN 'winter' THEN 1 WHEN 'spring' THEN 2 "
          "WHEN 'summer' THEN 3 ELSE 4 END, ranking, rank")
_COLUMNS = "season_year, season, ranking, rank, stock_code, description, revenue, quantity"


def seasons(con: duckdb.DuckDBPyConnection, f: Filter) -> dict[str, Any]:
    """Top 10 per (season_year, season), by revenue and by quantity, like the mart."""
    if f.is_all:
        return {"source": "mart_top_products_by_season",
                "rows": records(con, f"SELECT {_COLUMNS} FROM mart_top_products_by_season {_ORDER}")}
    rows = records(con, f"""
        WITH cells AS (
          SELECT *, CAST(YEAR(month) + CASE WHEN MONTH(month) = 12 THEN 1 ELSE 0 END AS INT) AS season_year,
                 CASE WHEN MONTH(month) IN (12, 1, 2) THEN 'winter' WHEN MONTH(month) IN (3, 4, 5) THEN 'spring'
                      WHEN MONTH(month) IN (6, 7, 8) THEN 'summer' ELSE 'autumn' END AS season
          FROM {product_cells(f)}),
        product_seasons AS (
          SELECT season_year, season, c.stock_code, ANY_VALUE(n.description) AS description,
                 SUM(revenue) AS revenue, SUM(quantity) AS quantity
          FROM cells AS c INNER JOIN cf_product_names AS n ON c.stock_code = n.stock_code
          GROUP BY season_year, season, c.stock_code),
        ranked AS (
          SELECT *, ROW_NUMBER() OVER (PARTITION BY season_year, season ORDER BY revenue DESC, stock_code) AS rr,
                    ROW_NUMBER() OVER (PARTITION BY season_year, season ORDER BY quantity DESC, stock_code) AS qr
          FROM product_seasons)
        SELECT {_COLUMNS} FROM (
          SELECT *, 'revenue' AS ranking, rr AS rank FROM ranked WHERE rr <= {TOP_N}
          UNION ALL
          SELECT *, 'quantity' AS ranking, qr AS rank FROM ranked WHERE qr <= {TOP_N})
        {_ORDER}""")
    return {"source": SOURCE, "rows": rows}
