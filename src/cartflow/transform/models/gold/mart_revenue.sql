/*
  gold.mart_revenue_<grain>: revenue per day, ISO week (Monday start), calendar month and
  calendar quarter: one blueprint, four models (periods with at least one order line).

  period_start = the first day of the line's period (DATE_TRUNC); gross_sales = sum of
  sale-line amounts; returns = sum of |cancellation amounts|; net_revenue = gross_sales -
  returns; orders = distinct invoices with a sale line; customers = distinct known
  customers with a sale line; avg_order_value = gross_sales / orders, divided exactly in
  DECIMAL (@money_div). Sums of DECIMAL(18, 3) lines are DECIMAL(38, 3): they cannot
  overflow. See docs/definitions.md.
*/
MODEL (
  name gold.mart_revenue_@{grain},
  kind FULL,
  tags (publish),
  blueprints (
    (grain := daily, period := 'day'),
    (grain := weekly, period := 'week'),
    (grain := monthly, period := 'month'),
    (grain := quarterly, period := 'quarter')
  ),
  grain period_start,
  description 'Revenue per period (day, ISO week, month or quarter, as named): gross, returns, net, orders, customers, average order value.',
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
    CAST(DATE_TRUNC(@period, invoice_date) AS DATE) AS period_start,
    order_lines.*
  FROM order_lines
),

revenue AS (
  SELECT
    period_start,
    SUM(CAST(gross_amount AS DECIMAL(38, 3))) AS gross_sales,
    SUM(CAST(return_amount AS DECIMAL(38, 3))) AS returns,
    SUM(CAST(net_amount AS DECIMAL(38, 3))) AS net_revenue,
    COUNT(DISTINCT CASE WHEN is_sale THEN invoice_no END) AS orders,
    COUNT(DISTINCT CASE WHEN is_sale AND customer_id <> @unknown_id() THEN customer_id END) AS customers
  FROM periods
  GROUP BY period_start
)

SELECT
  CAST(period_start AS DATE) AS period_start,
  CAST(gross_sales AS DECIMAL(38, 3)) AS gross_sales,
  CAST(returns AS DECIMAL(38, 3)) AS returns,
  CAST(net_revenue AS DECIMAL(38, 3)) AS net_revenue,
  CAST(orders AS BIGINT) AS orders,
  CAST(customers AS BIGINT) AS customers,
  @money_div(gross_sales, orders) AS avg_order_value
FROM revenue
