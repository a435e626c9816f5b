/*
  gold.mart_revenue_quarterly: revenue per calendar quarter (periods with at least one order line).

  gross_sales = sum of sale-line amounts; returns = sum of |cancellation amounts|;
  net_revenue = gross_sales - returns; orders = distinct invoices with a sale line;
  customers = distinct known customers with a sale line; avg_order_value =
  gross_sales / orders, divided exactly in DECIMAL (@money_div). See docs/definitions.md.
*/
MODEL (
  name gold.mart_revenue_quarterly,
  tags (publish),
  kind FULL,
  grain period_start,
  description 'Revenue per calendar quarter: gross, returns, net, orders, customers, average order value.',
  audits (
    not_null(columns := (period_start, gross_sales, returns, net_revenue, orders, customers)),
    unique_values(columns := (period_start)),
    non_negative(columns := (gross_sales, returns, orders, customers))
  )
);

WITH order_lines AS (
  SELECT invoice_no, invoice_date, customer_id, is_sale, gross_amount, return_amount, net_amount
  FROM gold.fct_order_line
),

periods AS (
  SELECT
    CAST(DATE_TRUNC('quarter', invoice_date) AS DATE) AS period_start,
    order_lines.*
  FROM order_lines
),

revenue AS (
  SELECT
    period_start,
    SUM(gross_amount) AS gross_sales,
    SUM(return_amount) AS returns,
    SUM(net_amount) AS net_revenue,
    COUNT(DISTINCT CASE WHEN is_sale THEN invoice_no END) AS orders,
    COUNT(DISTINCT CASE WHEN is_sale AND customer_id <> 'unknown' THEN customer_id END) AS customers
  FROM periods
  GROUP BY period_start
)

SELECT
  CAST(period_start AS DATE) AS period_start,
  CAST(gross_sales AS DECIMAL(18, 3)) AS gross_sales,
  CAST(returns AS DECIMAL(18, 3)) AS returns,
  CAST(net_revenue AS DECIMAL(18, 3)) AS net_revenue,
  CAST(orders AS BIGINT) AS orders,
  CAST(customers AS BIGINT) AS customers,
  @money_div(gross_sales, orders) AS avg_order_value
FROM revenue
