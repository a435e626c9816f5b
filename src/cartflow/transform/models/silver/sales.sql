/*
  silver.sales: good sales lines, one row per bronze row, with how the date was read
  (date_reading: iso, day_first, month_first_by_rule, same_either_way, ...), the amount
  in its currency and in the base currency. Incremental by the bronze row's identity.
*/
MODEL (
  name silver.sales,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (_batch_id, _source_row)
  ),
  grain (_batch_id, _source_row),
  description 'Typed sales lines: unit price, amount in its currency and the base currency, date reading, lineage.',
  audits (
    not_null(columns := (_batch_id, _source_row, transaction_id, quantity, unit_price, transaction_date, currency, amount_base)),
    non_negative(columns := (unit_price, amount, amount_base))
  )
);

WITH staged AS (
  SELECT * FROM silver.stg_sales
)

SELECT
  CAST(transaction_id AS VARCHAR) AS transaction_id,
  CAST(product_id AS VARCHAR) AS product_id,
  CAST(quantity AS INT) AS quantity,
  CAST(unit_price AS DECIMAL(18, 3)) AS unit_price,
  CAST(amount AS DECIMAL(18, 3)) AS amount,
  CAST(transaction_date AS DATE) AS transaction_date,
  CAST(date_reading AS VARCHAR) AS date_reading,
  CAST(currency AS VARCHAR) AS currency,
  CAST(fx_rate_date AS DATE) AS fx_rate_date,
  CAST(fx_factor AS DECIMAL(18, 12)) AS fx_factor,
  CAST(amount_base AS DECIMAL(18, 3)) AS amount_base,
  CAST(@currency AS VARCHAR) AS base_currency,
  CAST(_source AS VARCHAR) AS source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM staged
WHERE reason IS NULL
