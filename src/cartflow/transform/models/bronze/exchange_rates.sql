/*
  bronze.exchange_rates: every exchange_rates bronze file (all sources, all batches) as a view.

  Canonical text columns as the source sent them (names mapped by cartflow.lake.entities),
  plus lineage; `_source` is the source's name in cartflow.toml, `_error` is set on records
  the converter could not read as an object. The only read of the lake for this entity.
*/
MODEL (
  name bronze.exchange_rates,
  kind VIEW,
  description 'Bronze exchange_rates (all sources and batches): text columns as received, plus lineage.',
  columns (
    base_currency VARCHAR,
    currency_code VARCHAR,
    exchange_rate VARCHAR,
    rate_date VARCHAR,
    _source VARCHAR,
    _batch_id VARCHAR,
    _source_file VARCHAR,
    _source_row BIGINT,
    _ingested_at TIMESTAMP,
    _error VARCHAR
  )
);

SELECT
  CAST(base_currency AS VARCHAR) AS base_currency,
  CAST(currency_code AS VARCHAR) AS currency_code,
  CAST(exchange_rate AS VARCHAR) AS exchange_rate,
  CAST(rate_date AS VARCHAR) AS rate_date,
  CAST(_source AS VARCHAR) AS _source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at,
  CAST(_error AS VARCHAR) AS _error
FROM READ_PARQUET(@bronze_exchange_rates)
