/*
  silver.quarantine_exchange_rates: every rejected rate row, as received, with why.
*/
MODEL (
  name silver.quarantine_exchange_rates,
  tags (publish),
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (_batch_id, _source_row)
  ),
  grain (_batch_id, _source_row),
  description 'Rejected exchange-rate rows: reason, offending field and value, raw columns, lineage.',
  audits (
    not_null(columns := (_batch_id, _source_row, entity, reason))
  )
);

WITH staged AS (
  SELECT * FROM silver.stg_exchange_rates
)

SELECT
  CAST('exchange_rates' AS VARCHAR) AS entity,
  CAST(reason AS VARCHAR) AS reason,
  CAST(field AS VARCHAR) AS field,
  CAST(raw_value AS VARCHAR) AS raw_value,
  CAST(raw_base_currency AS VARCHAR) AS base_currency,
  CAST(raw_currency_code AS VARCHAR) AS currency_code,
  CAST(raw_exchange_rate AS VARCHAR) AS exchange_rate,
  CAST(raw_rate_date AS VARCHAR) AS rate_date,
  CAST(_source AS VARCHAR) AS source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM staged
WHERE reason IS NOT NULL
