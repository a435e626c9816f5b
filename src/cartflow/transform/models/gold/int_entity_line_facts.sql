/*
  gold.int_entity_line_facts: the pending batches' transactions and sales lines as fact
  rows (the other half of gold.fct_order_line).

  One row per source transaction: order_line_id = MD5(kind:source:id) and invoice_no =
  source:id, so an update extracted later replaces its row; of the copies in one run
  (an extract and its look-back) the newest wins. Amounts are already in the base
  currency (amount_base); every line is a sale. Keys resolve as of the transaction's
  day; a day before the first version takes the first version (records are observed
  after the orders they describe), and an id no dimension knows (the multi-source seed's
  product ids 1001-1005) takes the unknown member while keeping the id: never dropped.
*/
MODEL (
  name gold.int_entity_line_facts,
  kind VIEW,
  description 'Pending transactions and sales lines as fact rows, in the base currency, keys as of their day.'
);

WITH entity_lines AS (
  SELECT
    MD5('transactions:' || transactions.source || ':' || transactions.transaction_id) AS order_line_id,
    transactions.source || ':' || transactions.transaction_id AS invoice_no,
    COALESCE(transactions.product_id, @unknown_id()) AS stock_code,
    COALESCE(transactions.customer_id, @unknown_id()) AS customer_key,
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
    COALESCE(sales.product_id, @unknown_id()) AS stock_code,
    @unknown_id() AS customer_key,
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

newest_lines AS (
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

customers AS (
  SELECT
    customer_sk,
    customer_id,
    valid_from,
    COALESCE(valid_to, @open_end()) AS valid_until,
    ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY valid_from) AS position
  FROM gold.dim_customer
  WHERE valid_to IS NULL OR valid_to > valid_from
),

products AS (
  SELECT
    product_sk,
    stock_code,
    description,
    valid_from,
    COALESCE(valid_to, @open_end()) AS valid_until,
    ROW_NUMBER() OVER (PARTITION BY stock_code ORDER BY valid_from) AS position
  FROM gold.dim_product
  WHERE valid_to IS NULL OR valid_to > valid_from
),

with_keys AS (
  SELECT
    newest_lines.*,
    COALESCE(products.description, first_products.description) AS description,
    COALESCE(customers.customer_sk, first_customers.customer_sk, @unknown_sk()) AS customer_sk,
    COALESCE(products.product_sk, first_products.product_sk, @unknown_sk()) AS product_sk,
    newest_lines.quantity > 0 AND newest_lines.line_amount > 0 AS is_sale
  FROM newest_lines
  LEFT JOIN customers
    ON newest_lines.customer_key = customers.customer_id
    AND newest_lines.invoice_ts >= customers.valid_from
    AND newest_lines.invoice_ts < customers.valid_until
  LEFT JOIN customers AS first_customers
    ON newest_lines.customer_key = first_customers.customer_id
    AND first_customers.position = 1
  LEFT JOIN products
    ON newest_lines.stock_code = products.stock_code
    AND newest_lines.invoice_ts >= products.valid_from
    AND newest_lines.invoice_ts < products.valid_until
  LEFT JOIN products AS first_products
    ON newest_lines.stock_code = first_products.stock_code
    AND first_products.position = 1
),

amounts AS (
  SELECT
    with_keys.*,
    CASE WHEN is_sale THEN line_amount ELSE 0 END AS gross_amount
  FROM with_keys
)

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
FROM amounts
