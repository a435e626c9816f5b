/*
  bronze.sales: every sales bronze file (all sources, all batches) as a view.

  Canonical text columns as the source sent them (names mapped by cartflow.lake.entities),
  plus lineage; `_source` is the source's name in cartflow.toml, `_error` is set on records
  the converter could not read as an object. The only read of the lake for this entity.
*/
MODEL (
  name bronze.sales,
  kind VIEW,
  description 'Bronze sales (all sources and batches): text columns as received, plus lineage.',
  columns (
    transaction_id VARCHAR,
    product_id VARCHAR,
    quantity VARCHAR,
    price VARCHAR,
    transaction_date VARCHAR,
    currency VARCHAR,
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
  CAST(product_id AS VARCHAR) AS product_id,
  CAST(quantity AS VARCHAR) AS quantity,
  CAST(price AS VARCHAR) AS price,
  CAST(transaction_date AS VARCHAR) AS transaction_date,
  CAST(currency AS VARCHAR) AS currency,
  CAST(_source AS VARCHAR) AS _source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at,
  CAST(_error AS VARCHAR) AS _error
FROM READ_PARQUET(@bronze_sales)
