/*
  bronze.pending_product_batches: the products batch ids this run must process
  (written by the pipeline before each transform; zero rows is valid).
*/
MODEL (
  name bronze.pending_product_batches,
  kind VIEW,
  description 'Batch ids of products pending in this run (written by the pipeline).',
  columns (
    batch_id VARCHAR
  )
);

SELECT DISTINCT
  CAST(batch_id AS VARCHAR) AS batch_id
FROM READ_PARQUET(@pending_products)
