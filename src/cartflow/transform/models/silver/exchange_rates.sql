/*
  silver.exchange_rates: good rate rows, one row per bronze row: 1 base_currency =
  rate currency_code on rate_date. silver.fx_rates keeps one per base, currency and day
  across batches (the latest received); silver.fx_to_base turns them into conversion
  factors to [currency] base.
*/
MODEL (
  name silver.exchange_rates,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (_batch_id, _source_row)
  ),
  grain (_batch_id, _source_row),
  description 'Exchange rates: one per base, currency and day within a batch; positive, typed, with lineage.',
  audits (
    not_null(columns := (_batch_id, _source_row, base_currency, currency_code, rate, rate_date)),
    unique_combination_of_columns(columns := (_batch_id, base_currency, currency_code, rate_date))
  )
);

WITH staged AS (
  SELECT * FROM silver.stg_exchange_rates
)

SELECT
  CAST(base_currency AS VARCHAR) AS base_currency,
  CAST(currency_code AS VARCHAR) AS currency_code,
  CAST(rate AS DECIMAL(28, 10)) AS rate,
  CAST(rate_date AS DATE) AS rate_date,
  CAST(_source AS VARCHAR) AS source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM staged
WHERE reason IS NULL
