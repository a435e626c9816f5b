/*
  silver.reconciliation_order_lines: per batch, bronze rows = silver rows + quarantine rows.

  A ledger, one row per processed batch, rebuilt for the pending batches in each run.
  It depends on both silver tables, so it is evaluated after both have merged the
  batch; the blocking audit `reconciliation_holds` then fails the run (and everything
  downstream of it) the moment a row is lost or doubled.
*/
MODEL (
  name silver.reconciliation_order_lines,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (_batch_id)
  ),
  grain (_batch_id),
  description 'Row counts per batch: bronze, silver, quarantine (must reconcile).',
  audits (
    reconciliation_holds,
    not_null(columns := (_batch_id)),
    unique_values(columns := (_batch_id))
  )
);

WITH pending_batches AS (
  SELECT batch_id FROM bronze.pending_order_line_batches
),

bronze_rows AS (
  SELECT bronze_lines._batch_id, COUNT(*) AS bronze_rows
  FROM bronze.order_lines AS bronze_lines
  INNER JOIN pending_batches ON bronze_lines._batch_id = pending_batches.batch_id
  GROUP BY bronze_lines._batch_id
),

silver_rows AS (
  SELECT silver_lines._batch_id, COUNT(*) AS silver_rows
  FROM silver.order_lines AS silver_lines
  INNER JOIN pending_batches ON silver_lines._batch_id = pending_batches.batch_id
  GROUP BY silver_lines._batch_id
),

quarantine_rows AS (
  SELECT quarantine_lines._batch_id, COUNT(*) AS quarantine_rows
  FROM silver.quarantine_order_lines AS quarantine_lines
  INNER JOIN pending_batches ON quarantine_lines._batch_id = pending_batches.batch_id
  GROUP BY quarantine_lines._batch_id
)

SELECT
  CAST(pending_batches.batch_id AS VARCHAR) AS _batch_id,
  CAST(COALESCE(bronze_rows.bronze_rows, 0) AS BIGINT) AS bronze_rows,
  CAST(COALESCE(silver_rows.silver_rows, 0) AS BIGINT) AS silver_rows,
  CAST(COALESCE(quarantine_rows.quarantine_rows, 0) AS BIGINT) AS quarantine_rows
FROM pending_batches
LEFT JOIN bronze_rows ON pending_batches.batch_id = bronze_rows._batch_id
LEFT JOIN silver_rows ON pending_batches.batch_id = silver_rows._batch_id
LEFT JOIN quarantine_rows ON pending_batches.batch_id = quarantine_rows._batch_id
