/*
  silver.reconciliation_entities: per entity and pending batch, bronze rows = silver rows
  + quarantine rows, for customers, products, transactions, sales and exchange rates.

  The same ledger as silver.reconciliation_order_lines, for the other entities; its
  blocking audit `reconciliation_holds` fails the run the moment a row is lost or doubled.
*/
MODEL (
  name silver.reconciliation_entities,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (entity, _batch_id)
  ),
  grain (entity, _batch_id),
  description 'Row counts per entity and batch: bronze, silver, quarantine (must reconcile).',
  audits (
    reconciliation_holds,
    not_null(columns := (entity, _batch_id))
  )
);

WITH bronze_rows AS (
  SELECT 'customers' AS entity, rows_in._batch_id, COUNT(*) AS n
  FROM bronze.customers AS rows_in
  INNER JOIN bronze.pending_customer_batches AS pending ON rows_in._batch_id = pending.batch_id
  GROUP BY rows_in._batch_id
  UNION ALL
  SELECT 'products' AS entity, rows_in._batch_id, COUNT(*) AS n
  FROM bronze.products AS rows_in
  INNER JOIN bronze.pending_product_batches AS pending ON rows_in._batch_id = pending.batch_id
  GROUP BY rows_in._batch_id
  UNION ALL
  SELECT 'transactions' AS entity, rows_in._batch_id, COUNT(*) AS n
  FROM bronze.transactions AS rows_in
  INNER JOIN bronze.pending_transaction_batches AS pending ON rows_in._batch_id = pending.batch_id
  GROUP BY rows_in._batch_id
  UNION ALL
  SELECT 'sales' AS entity, rows_in._batch_id, COUNT(*) AS n
  FROM bronze.sales AS rows_in
  INNER JOIN bronze.pending_sale_batches AS pending ON rows_in._batch_id = pending.batch_id
  GROUP BY rows_in._batch_id
  UNION ALL
  SELECT 'exchange_rates' AS entity, rows_in._batch_id, COUNT(*) AS n
  FROM bronze.exchange_rates AS rows_in
  INNER JOIN bronze.pending_exchange_rate_batches AS pending ON rows_in._batch_id = pending.batch_id
  GROUP BY rows_in._batch_id
),

silver_rows AS (
  SELECT 'customers' AS entity, _batch_id, COUNT(*) AS n FROM silver.customers GROUP BY _batch_id
  UNION ALL
  SELECT 'products' AS entity, _batch_id, COUNT(*) AS n FROM silver.products GROUP BY _batch_id
  UNION ALL
  SELECT 'transactions' AS entity, _batch_id, COUNT(*) AS n FROM silver.transactions GROUP BY _batch_id
  UNION ALL
  SELECT 'sales' AS entity, _batch_id, COUNT(*) AS n FROM silver.sales GROUP BY _batch_id
  UNION ALL
  SELECT 'exchange_rates' AS entity, _batch_id, COUNT(*) AS n FROM silver.exchange_rates GROUP BY _batch_id
),

quarantine_rows AS (
  SELECT entity, _batch_id, COUNT(*) AS n FROM silver.quarantine_customers GROUP BY entity, _batch_id
  UNION ALL
  SELECT entity, _batch_id, COUNT(*) AS n FROM silver.quarantine_products GROUP BY entity, _batch_id
  UNION ALL
  SELECT entity, _batch_id, COUNT(*) AS n FROM silver.quarantine_transactions GROUP BY entity, _batch_id
  UNION ALL
  SELECT entity, _batch_id, COUNT(*) AS n FROM silver.quarantine_sales GROUP BY entity, _batch_id
  UNION ALL
  SELECT entity, _batch_id, COUNT(*) AS n FROM silver.quarantine_exchange_rates GROUP BY entity, _batch_id
)

SELECT
  CAST(bronze_rows.entity AS VARCHAR) AS entity,
  CAST(bronze_rows._batch_id AS VARCHAR) AS _batch_id,
  CAST(bronze_rows.n AS BIGINT) AS bronze_rows,
  CAST(COALESCE(silver_rows.n, 0) AS BIGINT) AS silver_rows,
  CAST(COALESCE(quarantine_rows.n, 0) AS BIGINT) AS quarantine_rows
FROM bronze_rows
LEFT JOIN silver_rows
  ON bronze_rows.entity = silver_rows.entity AND bronze_rows._batch_id = silver_rows._batch_id
LEFT JOIN quarantine_rows
  ON bronze_rows.entity = quarantine_rows.entity AND bronze_rows._batch_id = quarantine_rows._batch_id
