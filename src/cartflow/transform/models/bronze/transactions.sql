/*
  bronze.transactions: every transactions bronze file (all sources, all batches) as a view.

  Canonical text columns as the source sent them (names mapped by cartflow.lake.entities),
  plus lineage; `_source` is the source's name in cartflow.toml, `_error` is set on records
  the converter could not read as an object. The only read of the lake for this entity.
*/
MODEL (
  name bronze.transactions,
  kind VIEW,
  description 'Bronze transactions (all sources and batches): text columns as received, plus lineage.',
  columns (
    transaction_id VARCHAR,
    customer_id VARCHAR,
    product_id VARCHAR,
    quantity VARCHAR,
    transaction_date VARCHAR,
    total_amount VARCHAR,
    currency VARCHAR,
    updated_at VARCHAR,
    _source VARCHAR,
    _batch_id VARCHAR,
    _source_file VARCHAR,
    _source_row BIGINT,
    _ingested_at TIMESTAMP,
    _error VARCHAR
  )
);

SELECT
  CAST(transaction_id AS VARCHAR) AS transaction_id,
  CAST(customer_id AS VARCHAR) AS customer_id,
  CAST(product_id AS VARCHAR) AS product_id,
  CAST(quantity AS VARCHAR) AS quantity,
  CAST(transaction_date AS VARCHAR) AS transaction_date,
  CAST(total_amount AS VARCHAR) AS total_amount,
  CAST(currency AS VARCHAR) AS currency,
  CAST(updated_at AS VARCHAR) AS updated_at,
  CAST(_source AS VARCHAR) AS _source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at,
  CAST(_error AS VARCHAR) AS _error
FROM READ_PARQUET(@bronze_transactions)
