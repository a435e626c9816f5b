/*
  bronze.pending_exchange_rate_batches: the exchange_rates batch ids this run must process
  (written by the pipeline before each transform; zero rows is valid).
*/
MODEL (
  name bronze.pending_exchange_rate_batches,
  kind VIEW,
  description 'Batch ids of exchange_rates pending in this run (written by the pipeline).',
  columns (
    batch_id VARCHAR
  )
);

SELECT DISTINCT
  CAST(batch_id AS VARCHAR) AS batch_id
FROM READ_PARQUET(@pending_exchange_rates)
