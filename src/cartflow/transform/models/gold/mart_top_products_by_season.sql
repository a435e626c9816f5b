/*
  gold.mart_top_products_by_season: the 10 best products of each meteorological season,
  once by revenue and once by quantity.

  Net of cancellations: revenue is net_amount (gross sales minus returns) and quantity is
  units sold minus units cancelled, so an order that was cancelled (the 80,995-unit
  outlier) does not make a product popular. Real products only (dim_product.is_product:
  postage, fees and vouchers are not products). Ties are broken by stock code so the ranking is deterministic.
  Description is the product's current one.
*/
MODEL (
  name gold.mart_top_products_by_season,
  tags (publish),
  kind FULL,
  grain (season_year, season, ranking, rank),
  description 'Top 10 products per meteorological season and season year, by revenue and by quantity.',
  audits (
    not_null(columns := (season_year, season, ranking, rank, stock_code, revenue, quantity)),
    unique_combination_of_columns(columns := (season_year, season, ranking, rank)),
    accepted_values(column := ranking, is_in := ('revenue', 'quantity'))
  )
);

WITH order_lines AS (
  SELECT stock_code, invoice_date, quantity, net_amount
  FROM gold.fct_order_line
  WHERE is_sale OR line_type = 'cancellation'
),

products AS (
  SELECT stock_code, description, is_product
  FROM gold.dim_product
  WHERE is_current
),

dates AS (
  SELECT date_day, season, season_year FROM gold.dim_date
),

product_seasons AS (
  SELECT
    dates.season_year,
    dates.season,
    order_lines.stock_code,
    SUM(CAST(order_lines.net_amount AS DECIMAL(38, 3))) AS revenue,
    SUM(order_lines.quantity) AS quantity
  FROM order_lines
  INNER JOIN dates ON order_lines.invoice_date = dates.date_day
  INNER JOIN products ON order_lines.stock_code = products.stock_code
  WHERE products.is_product
  GROUP BY dates.season_year, dates.season, order_lines.stock_code
),

ranked AS (
  SELECT
    product_seasons.*,
    ROW_NUMBER() OVER (
      PARTITION BY season_year, season ORDER BY revenue DESC, stock_code
    ) AS revenue_rank,
    ROW_NUMBER() OVER (
      PARTITION BY season_year, season ORDER BY quantity DESC, stock_code
    ) AS quantity_rank
  FROM product_seasons
),

top_products AS (
  SELECT season_year, season, 'revenue' AS ranking, revenue_rank AS rank, stock_code, revenue, quantity
  FROM ranked
  WHERE revenue_rank <= 10
  UNION ALL
  SELECT season_year, season, 'quantity' AS ranking, quantity_rank AS rank, stock_code, revenue, quantity
  FROM ranked
  WHERE quantity_rank <= 10
)

SELECT
  CAST(top_products.season_year AS INT) AS season_year,
  CAST(top_products.season AS VARCHAR) AS season,
  CAST(top_products.ranking AS VARCHAR) AS ranking,
  CAST(top_products.rank AS INT) AS rank,
  CAST(top_products.stock_code AS VARCHAR) AS stock_code,
  CAST(products.description AS VARCHAR) AS description,
  CAST(top_products.revenue AS DECIMAL(38, 3)) AS revenue,
  CAST(top_products.quantity AS BIGINT) AS quantity
FROM top_products
INNER JOIN products ON top_products.stock_code = products.stock_code
