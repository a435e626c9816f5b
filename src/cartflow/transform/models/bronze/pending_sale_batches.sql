/*
  bronze.pending_sale_batches: the sales batch ids this run must process
  (written by the pipeline before each transform; zero rows is valid).
*/
MODEL (
  name bronze.pending_sale_batches,
  kind VIEW,
  description 'Batch ids of sales pending in this run (written by the pipeline).',
  columns (
    batch_id VARCHAR
  )
);

SELECT DISTINCT
  CAST(batch_id AS VARCHAR) AS batch_id
FROM READ_PARQUET(@pending_sales)
