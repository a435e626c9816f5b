/*
  gold.int_order_line_facts: the pending batches' order lines as fact rows (the order-line
  half of gold.fct_order_line).

  order_line_id = MD5(_batch_id:_source_row): the bronze row's identity, so re-running a
  batch upserts the same rows. Dimension keys are resolved *as of invoice_ts*
  (valid_from <= invoice_ts < valid_to, an open end read as @open_end()) against the
  dimension versions just rebuilt in this run; a line without CustomerID gets the
  unknown member.

  Amounts (docs/definitions.md): gross_amount = quantity * unit_price on sale lines
  (invoice not C/A, quantity > 0, unit_price > 0); return_amount = |quantity * unit_price|
  on cancellation lines; net_amount = gross_amount - return_amount. Adjustment lines
  ('A' invoices, bad-debt write-offs) are kept with line_amount but count in neither.
  silver guarantees quantity * unit_price fits DECIMAL(18, 3) (out_of_range:line_amount).
*/
MODEL (
  name gold.int_order_line_facts,
  kind VIEW,
  description 'Pending order lines as fact rows: amounts by definition, dimension keys as of invoice_ts.'
);

WITH pending_batches AS (
  SELECT batch_id FROM bronze.pending_order_line_batches
),

order_lines AS (
  SELECT silver_lines.*
  FROM silver.order_lines AS silver_lines
  INNER JOIN pending_batches ON silver_lines._batch_id = pending_batches.batch_id
),

customers AS (
  SELECT customer_sk, customer_id, valid_from, COALESCE(valid_to, @open_end()) AS valid_until
  FROM gold.dim_customer
),

products AS (
  SELECT product_sk, stock_code, valid_from, COALESCE(valid_to, @open_end()) AS valid_until
  FROM gold.dim_product
),

lines AS (
  SELECT
    MD5(_batch_id || ':' || CAST(_source_row AS VARCHAR)) AS order_line_id,
    order_lines.*,
    COALESCE(customer_id, @unknown_id()) AS customer_key,
    CAST(quantity * unit_price AS DECIMAL(18, 3)) AS line_amount,
    line_type = 'sale' AND quantity > 0 AND unit_price > 0 AS is_sale
  FROM order_lines
),

with_keys AS (
  SELECT
    lines.*,
    customers.customer_sk,
    products.product_sk
  FROM lines
  LEFT JOIN customers
    ON lines.customer_key = customers.customer_id
    AND lines.invoice_ts >= customers.valid_from
    AND lines.invoice_ts < customers.valid_until
  LEFT JOIN products
    ON lines.stock_code = products.stock_code
    AND lines.invoice_ts >= products.valid_from
    AND lines.invoice_ts < products.valid_until
),

amounts AS (
  SELECT
    with_keys.*,
    CASE WHEN is_sale THEN line_amount ELSE 0 END AS gross_amount,
    CASE WHEN line_type = 'cancellation' THEN ABS(line_amount) ELSE 0 END AS return_amount
  FROM with_keys
)

SELECT
  CAST(order_line_id AS VARCHAR) AS order_line_id,
  CAST(invoice_no AS VARCHAR) AS invoice_no,
  CAST(line_type AS VARCHAR) AS line_type,
  CAST(stock_code AS VARCHAR) AS stock_code,
  CAST(description AS VARCHAR) AS description,
  CAST(customer_key AS VARCHAR) AS customer_id,
  CAST(customer_sk AS VARCHAR) AS customer_sk,
  CAST(product_sk AS VARCHAR) AS product_sk,
  CAST(country AS VARCHAR) AS country,
  CAST(invoice_ts AS TIMESTAMP) AS invoice_ts,
  CAST(invoice_date AS DATE) AS invoice_date,
  CAST(quantity AS INT) AS quantity,
  CAST(unit_price AS DECIMAL(18, 3)) AS unit_price,
  CAST(is_sale AS BOOLEAN) AS is_sale,
  CAST(line_amount AS DECIMAL(18, 3)) AS line_amount,
  CAST(gross_amount AS DECIMAL(18, 3)) AS gross_amount,
  CAST(return_amount AS DECIMAL(18, 3)) AS return_amount,
  CAST(gross_amount - return_amount AS DECIMAL(18, 3)) AS net_amount,
  CAST(currency AS VARCHAR) AS currency,
  CAST(event_id AS VARCHAR) AS event_id,
  CAST(COALESCE(_source, 'online_retail') AS VARCHAR) AS source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM amounts
