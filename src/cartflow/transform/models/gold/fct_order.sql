/*
  gold.fct_order: one row per invoice, summed from gold.fct_order_line.

  Incremental by invoice_no: the invoices touched by the pending batches are summed
  again from all their lines (an invoice whose lines arrive in two batches stays one
  correct row). Customer, country and customer_sk are those of the invoice's first line
  (by invoice_ts, then source position); invoice_ts is the first timestamp of the
  invoice (43 invoices in the reference data carry more than one). Amounts are sums of
  DECIMAL(18, 3) lines, so DECIMAL(38, 3): an invoice of many large lines cannot overflow.
*/
MODEL (
  name gold.fct_order,
  tags (publish),
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key invoice_no
  ),
  grain invoice_no,
  description 'Order (invoice) fact: lines, items, gross, returns, net.',
  audits (
    not_null(columns := (invoice_no, customer_id, invoice_ts, invoice_date, line_type)),
    unique_values(columns := (invoice_no)),
    accepted_values(column := line_type, is_in := ('sale', 'cancellation', 'adjustment')),
    non_negative(columns := (gross_amount, return_amount))
  )
);

WITH pending_batches AS (
  SELECT batch_id FROM bronze.pending_order_line_batches
  UNION ALL
  SELECT batch_id FROM bronze.pending_transaction_batches
  UNION ALL
  SELECT batch_id FROM bronze.pending_sale_batches
),

touched_invoices AS (
  SELECT DISTINCT fact_lines.invoice_no
  FROM gold.fct_order_line AS fact_lines
  INNER JOIN pending_batches ON fact_lines._batch_id = pending_batches.batch_id
),

order_lines AS (
  SELECT fact_lines.*
  FROM gold.fct_order_line AS fact_lines
  INNER JOIN touched_invoices ON fact_lines.invoice_no = touched_invoices.invoice_no
),

first_lines AS (
  SELECT invoice_no, customer_id, customer_sk, country, line_type, currency
  FROM (
    SELECT
      order_lines.*,
      ROW_NUMBER() OVER (
        PARTITION BY invoice_no ORDER BY invoice_ts, _batch_id, _source_row
      ) AS line_position
    FROM order_lines
  ) AS positioned
  WHERE line_position = 1
),

totals AS (
  SELECT
    invoice_no,
    MIN(invoice_ts) AS invoice_ts,
    COUNT(*) AS lines,
    SUM(quantity) AS items,
    SUM(CAST(gross_amount AS DECIMAL(38, 3))) AS gross_amount,
    SUM(CAST(return_amount AS DECIMAL(38, 3))) AS return_amount,
    SUM(CAST(net_amount AS DECIMAL(38, 3))) AS net_amount
  FROM order_lines
  GROUP BY invoice_no
)

SELECT
  CAST(totals.invoice_no AS VARCHAR) AS invoice_no,
  CAST(first_lines.line_type AS VARCHAR) AS line_type,
  CAST(first_lines.customer_id AS VARCHAR) AS customer_id,
  CAST(first_lines.customer_sk AS VARCHAR) AS customer_sk,
  CAST(first_lines.country AS VARCHAR) AS country,
  CAST(totals.invoice_ts AS TIMESTAMP) AS invoice_ts,
  CAST(CAST(totals.invoice_ts AS DATE) AS DATE) AS invoice_date,
  CAST(totals.lines AS BIGINT) AS lines,
  CAST(totals.items AS BIGINT) AS items,
  CAST(totals.gross_amount AS DECIMAL(38, 3)) AS gross_amount,
  CAST(totals.return_amount AS DECIMAL(38, 3)) AS return_amount,
  CAST(totals.net_amount AS DECIMAL(38, 3)) AS net_amount,
  CAST(first_lines.currency AS VARCHAR) AS currency
FROM totals
INNER JOIN first_lines ON totals.invoice_no = first_lines.invoice_no
