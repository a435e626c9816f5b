/*
  gold.mart_source_rows: per entity and source, rows received = rows kept + rows
  quarantined, over every batch so far: the published face of the reconciliation for
  customers, products, transactions, sales and exchange rates.
*/
MODEL (
  name gold.mart_source_rows,
  tags (publish),
  kind FULL,
  grain (entity, source),
  description 'Rows received, kept (silver) and quarantined per entity and source.',
  audits (
    not_null(columns := (entity, source, received, kept, quarantined)),
    unique_combination_of_columns(columns := (entity, source))
  )
);

WITH rows_by_fate AS (
  SELECT 'customers' AS entity, source, 1 AS kept FROM silver.customers
  UNION ALL
  SELECT entity, source, 0 AS kept FROM silver.quarantine_customers
  UNION ALL
  SELECT 'products' AS entity, source, 1 AS kept FROM silver.products
  UNION ALL
  SELECT entity, source, 0 AS kept FROM silver.quarantine_products
  UNION ALL
  SELECT 'transactions' AS entity, source, 1 AS kept FROM silver.transactions
  UNION ALL
  SELECT entity, source, 0 AS kept FROM silver.quarantine_transactions
  UNION ALL
  SELECT 'sales' AS entity, source, 1 AS kept FROM silver.sales
  UNION ALL
  SELECT entity, source, 0 AS kept FROM silver.quarantine_sales
  UNION ALL
  SELECT 'exchange_rates' AS entity, source, 1 AS kept FROM silver.exchange_rates
  UNION ALL
  SELECT entity, source, 0 AS kept FROM silver.quarantine_exchange_rates
)

SELECT
  CAST(entity AS VARCHAR) AS entity,
  CAST(source AS VARCHAR) AS source,
  CAST(COUNT(*) AS BIGINT) AS received,
  CAST(SUM(kept) AS BIGINT) AS kept,
  CAST(COUNT(*) - SUM(kept) AS BIGINT) AS quarantined
FROM rows_by_fate
GROUP BY entity, source
