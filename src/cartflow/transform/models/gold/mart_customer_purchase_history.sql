/*
  gold.mart_customer_purchase_history: every invoice of every known customer, newest
  first, for the purchase-history API.

  order_rank = 1 is the customer's latest invoice (ties on invoice_ts broken by
  invoice_no, descending); the table is also written in that order.
*/
MODEL (
  name gold.mart_customer_purchase_history,
  tags (publish),
  kind FULL,
  grain (customer_id, invoice_no),
  description 'Purchase history per known customer: one row per invoice, newest first.',
  audits (
    not_null(columns := (customer_id, invoice_no, invoice_ts, order_rank)),
    unique_combination_of_columns(columns := (customer_id, invoice_no))
  )
);

WITH orders AS (
  SELECT *
  FROM gold.fct_order
  WHERE customer_id <> @unknown_id()
),

ranked AS (
  SELECT
    orders.*,
    ROW_NUMBER() OVER (
      PARTITION BY customer_id ORDER BY invoice_ts DESC, invoice_no DESC
    ) AS order_rank
  FROM orders
)

SELECT
  CAST(customer_id AS VARCHAR) AS customer_id,
  CAST(order_rank AS INT) AS order_rank,
  CAST(invoice_no AS VARCHAR) AS invoice_no,
  CAST(line_type AS VARCHAR) AS line_type,
  CAST(invoice_ts AS TIMESTAMP) AS invoice_ts,
  CAST(invoice_date AS DATE) AS invoice_date,
  CAST(country AS VARCHAR) AS country,
  CAST(lines AS BIGINT) AS lines,
  CAST(items AS BIGINT) AS items,
  CAST(gross_amount AS DECIMAL(38, 3)) AS gross_amount,
  CAST(return_amount AS DECIMAL(38, 3)) AS return_amount,
  CAST(net_amount AS DECIMAL(38, 3)) AS net_amount,
  CAST(currency AS VARCHAR) AS currency
FROM ranked
ORDER BY customer_id, order_rank
