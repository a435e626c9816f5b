/*
  gold.fct_order_line: one row per silver order line, with money split by definition.

  order_line_id = MD5(_batch_id:_source_row): the bronze row's identity, so re-running a
  batch upserts the same rows. Dimension keys are resolved *as of invoice_ts*
  (valid_from <= invoice_ts < valid_to) against the dimension versions just rebuilt in
  this run; a line without CustomerID gets the 'unknown' member.

  Amounts (docs/definitions.md): gross_amount = quantity * unit_price on sale lines
  (invoice not C/A, quantity > 0, unit_price > 0); return_amount = |quantity * unit_price|
  on cancellation lines; net_amount = gross_amount - return_amount. Adjustment lines
  ('A' invoices, bad-debt write-offs) are kept with line_amount but count in neither.

  Transactions and sales lines (silver.transactions, silver.sales) are facts too, one
  row per source transaction: order_line_id = MD5(kind:source:id) and invoice_no =
  source:id, so an update extracted later replaces its row. Their amounts are already in
  the base currency (amount_base). Keys resolve as of the transaction's day; a day
  before the first version takes the first version (records are observed after the
  orders they describe), and an id no dimension knows (the multi-source seed's product
  ids 1001-1005) takes the 'unknown' member while keeping the id: never dropped.
*/
MODEL (
  name gold.fct_order_line,
  tags (publish),
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key order_line_id
  ),
  grain order_line_id,
  description 'Order line fact: one row per silver line, amounts in DECIMAL, dimension keys as of invoice_ts.',
  audits (
    not_null(columns := (order_line_id, invoice_no, stock_code, customer_id, customer_sk, product_sk, invoice_ts, invoice_date, line_type)),
    unique_values(columns := (order_line_id)),
    accepted_values(column := line_type, is_in := ('sale', 'cancellation', 'adjustment')),
    non_negative(columns := (gross_amount, return_amount))
  )
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
  SELECT
    customer_sk,
    customer_id,
    valid_from,
    -- An open end as a far-future bound: with `valid_to IS NULL OR ...` in the join
    -- condition DuckDB falls back to a nested-loop join (minutes at 500k lines).
    COALESCE(valid_to, CAST('9999-12-31 00:00:00' AS TIMESTAMP)) AS valid_until
  FROM gold.dim_customer
),

products AS (
  SELECT
    product_sk,
    stock_code,
    valid_from,
    COALESCE(valid_to, CAST('9999-12-31 00:00:00' AS TIMESTAMP)) AS valid_until
  FROM gold.dim_product
),

lines AS (
  SELECT
    MD5(_batch_id || ':' || CAST(_source_row AS VARCHAR)) AS order_line_id,
    order_lines.*,
    COALESCE(customer_id, 'unknown') AS customer_key,
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

entity_lines AS (
  SELECT
    MD5('transactions:' || transactions.source || ':' || transactions.transaction_id) AS order_line_id,
    transactions.source || ':' || transactions.transaction_id AS invoice_no,
    COALESCE(transactions.product_id, 'unknown') AS stock_code,
    COALESCE(transactions.customer_id, 'unknown') AS customer_key,
    transactions.quantity,
    @money_div(transactions.amount_base, transactions.quantity) AS unit_price,
    transactions.amount_base AS line_amount,
    CAST(transactions.transaction_date AS TIMESTAMP) AS invoice_ts,
    transactions.transaction_date AS invoice_date,
    transactions.base_currency AS currency,
    transactions.source,
    transactions._batch_id,
    transactions._source_file,
    transactions._source_row,
    transactions._ingested_at
  FROM silver.transactions AS transactions
  INNER JOIN bronze.pending_transaction_batches AS pending
    ON transactions._batch_id = pending.batch_id
  UNION ALL
  SELECT
    MD5('sales:' || sales.source || ':' || sales.transaction_id) AS order_line_id,
    sales.source || ':' || sales.transaction_id AS invoice_no,
    COALESCE(sales.product_id, 'unknown') AS stock_code,
    'unknown' AS customer_key,
    sales.quantity,
    CAST(CAST(sales.unit_price AS DECIMAL(38, 3)) * sales.fx_factor AS DECIMAL(18, 3)) AS unit_price,
    sales.amount_base AS line_amount,
    CAST(sales.transaction_date AS TIMESTAMP) AS invoice_ts,
    sales.transaction_date AS invoice_date,
    sales.base_currency AS currency,
    sales.source,
    sales._batch_id,
    sales._source_file,
    sales._source_row,
    sales._ingested_at
  FROM silver.sales AS sales
  INNER JOIN bronze.pending_sale_batches AS pending
    ON sales._batch_id = pending.batch_id
),

-- One row per transaction in a run, the newest (an extract and its look-back may both hold it).
newest_entity_lines AS (
  SELECT *
  FROM (
    SELECT
      entity_lines.*,
      ROW_NUMBER() OVER (
        PARTITION BY order_line_id ORDER BY _ingested_at DESC, _batch_id DESC, _source_row DESC
      ) AS newest
    FROM entity_lines
  ) AS ranked
  WHERE newest = 1
),

entity_customers AS (
  SELECT
    customer_sk,
    customer_id,
    valid_from,
    COALESCE(valid_to, CAST('9999-12-31 00:00:00' AS TIMESTAMP)) AS valid_until,
    ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY valid_from) AS position
  FROM gold.dim_customer
  WHERE valid_to IS NULL OR valid_to > valid_from
),

entity_products AS (
  SELECT
    product_sk,
    stock_code,
    description,
    valid_from,
    COALESCE(valid_to, CAST('9999-12-31 00:00:00' AS TIMESTAMP)) AS valid_until,
    ROW_NUMBER() OVER (PARTITION BY stock_code ORDER BY valid_from) AS position
  FROM gold.dim_product
  WHERE valid_to IS NULL OR valid_to > valid_from
),

entity_amounts AS (
  SELECT
    newest_entity_lines.*,
    COALESCE(products.description, first_products.description) AS description,
    COALESCE(customers.customer_sk, first_customers.customer_sk, MD5('unknown|1900-01-01 00:00:00')) AS customer_sk,
    COALESCE(products.product_sk, first_products.product_sk, MD5('unknown|1900-01-01 00:00:00')) AS product_sk,
    newest_entity_lines.quantity > 0 AND newest_entity_lines.line_amount > 0 AS is_sale,
    CASE
      WHEN newest_entity_lines.quantity > 0 AND newest_entity_lines.line_amount > 0
        THEN newest_entity_lines.line_amount
      ELSE 0
    END AS gross_amount
  FROM newest_entity_lines
  LEFT JOIN entity_customers AS customers
    ON newest_entity_lines.customer_key = customers.customer_id
    AND newest_entity_lines.invoice_ts >= customers.valid_from
    AND newest_entity_lines.invoice_ts < customers.valid_until
  LEFT JOIN entity_customers AS first_customers
    ON newest_entity_lines.customer_key = first_customers.customer_id
    AND first_customers.position = 1
  LEFT JOIN entity_products AS products
    ON newest_entity_lines.stock_code = products.stock_code
    AND newest_entity_lines.invoice_ts >= products.valid_from
    AND newest_entity_lines.invoice_ts < products.valid_until
  LEFT JOIN entity_products AS first_products
    ON newest_entity_lines.stock_code = first_products.stock_code
    AND first_products.position = 1
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
UNION ALL
SELECT
  CAST(order_line_id AS VARCHAR) AS order_line_id,
  CAST(invoice_no AS VARCHAR) AS invoice_no,
  CAST('sale' AS VARCHAR) AS line_type,
  CAST(stock_code AS VARCHAR) AS stock_code,
  CAST(description AS VARCHAR) AS description,
  CAST(customer_key AS VARCHAR) AS customer_id,
  CAST(customer_sk AS VARCHAR) AS customer_sk,
  CAST(product_sk AS VARCHAR) AS product_sk,
  CAST(NULL AS VARCHAR) AS country,
  CAST(invoice_ts AS TIMESTAMP) AS invoice_ts,
  CAST(invoice_date AS DATE) AS invoice_date,
  CAST(quantity AS INT) AS quantity,
  CAST(unit_price AS DECIMAL(18, 3)) AS unit_price,
  CAST(is_sale AS BOOLEAN) AS is_sale,
  CAST(line_amount AS DECIMAL(18, 3)) AS line_amount,
  CAST(gross_amount AS DECIMAL(18, 3)) AS gross_amount,
  CAST(0 AS DECIMAL(18, 3)) AS return_amount,
  CAST(gross_amount AS DECIMAL(18, 3)) AS net_amount,
  CAST(currency AS VARCHAR) AS currency,
  CAST(NULL AS VARCHAR) AS event_id,
  CAST(source AS VARCHAR) AS source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM entity_amounts
