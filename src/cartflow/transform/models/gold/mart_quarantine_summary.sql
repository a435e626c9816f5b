/*
  gold.mart_quarantine_summary: how many rows each rule rejected, for the dashboard.
*/
MODEL (
  name gold.mart_quarantine_summary,
  tags (publish),
  kind FULL,
  grain (entity, reason),
  description 'Quarantined rows per entity and reason code.',
  audits (
    not_null(columns := (entity, reason, rows)),
    unique_combination_of_columns(columns := (entity, reason))
  )
);

WITH quarantine AS (
  SELECT entity, reason FROM silver.quarantine_order_lines
  UNION ALL
  SELECT entity, reason FROM silver.quarantine_customers
  UNION ALL
  SELECT entity, reason FROM silver.quarantine_products
  UNION ALL
  SELECT entity, reason FROM silver.quarantine_transactions
  UNION ALL
  SELECT entity, reason FROM silver.quarantine_sales
  UNION ALL
  SELECT entity, reason FROM silver.quarantine_exchange_rates
)

SELECT
  CAST(entity AS VARCHAR) AS entity,
  CAST(reason AS VARCHAR) AS reason,
  CAST(COUNT(*) AS BIGINT) AS rows
FROM quarantine
GROUP BY entity, reason
