/*
  bronze.pending_order_line_batches: the batch ids this run must process.

  The pipeline writes the pending list before each transform; incremental models read
  only these batches, which is what keeps a daily run proportional to the new file and
  not to the history. Zero rows is valid (nothing new: incremental models merge nothing).
*/
MODEL (
  name bronze.pending_order_line_batches,
  kind VIEW,
  description 'Batch ids of order_lines pending in this run (written by the pipeline).',
  columns (
    batch_id VARCHAR
  )
);

SELECT DISTINCT
  CAST(batch_id AS VARCHAR) AS batch_id
FROM READ_PARQUET(@pending_order_lines)
