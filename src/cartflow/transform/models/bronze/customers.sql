/*
  bronze.customers: every customers bronze file (all sources, all batches) as a view.

  Canonical text columns as the source sent them (names mapped by cartflow.lake.entities),
  plus lineage; `_source` is the source's name in cartflow.toml, `_error` is set on records
  the converter could not read as an object. The only read of the lake for this entity.
*/
MODEL (
  name bronze.customers,
  kind VIEW,
  description 'Bronze customers (all sources and batches): text columns as received, plus lineage.',
  columns (
    customer_id VARCHAR,
    customer_name VARCHAR,
    email VARCHAR,
    age VARCHAR,
    gender VARCHAR,
    location VARCHAR,
    country VARCHAR,
    date_joined VARCHAR,
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
  CAST(customer_id AS VARCHAR) AS customer_id,
  CAST(customer_name AS VARCHAR) AS customer_name,
  CAST(email AS VARCHAR) AS email,
  CAST(age AS VARCHAR) AS age,
  CAST(gender AS VARCHAR) AS gender,
  CAST(location AS VARCHAR) AS location,
  CAST(country AS VARCHAR) AS country,
  CAST(date_joined AS VARCHAR) AS date_joined,
  CAST(updated_at AS VARCHAR) AS updated_at,
  CAST(_source AS VARCHAR) AS _source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at,
  CAST(_error AS VARCHAR) AS _error
FROM READ_PARQUET(@bronze_customers)
