/*
  silver.transactions: good transactions, one row per bronze row, amounts in their own
  currency and in the base currency (amount_base), with the rate day used.
  Incremental by the bronze row's identity; gold keys facts by source and transaction id,
  so a transaction extracted again (an update, a look-back) replaces its fact row.
*/
MODEL (
  name silver.transactions,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (_batch_id, _source_row)
  ),
  grain (_batch_id, _source_row),
  description 'Typed transactions: quantity, total in its currency and in the base currency, lineage.',
  audits (
    not_null(columns := (_batch_id, _source_row, transaction_id, quantity, transaction_date, amount, currency, amount_base)),
    non_negative(columns := (amount, amount_base))
  )
);

WITH staged AS (
  SELECT * FROM silver.stg_transactions
)

SELECT
  CAST(transaction_id AS VARCHAR) AS transaction_id,
  CAST(customer_id AS VARCHAR) AS customer_id,
  CAST(product_id AS VARCHAR) AS product_id,
  CAST(quantity AS INT) AS quantity,
  CAST(transaction_date AS DATE) AS transaction_date,
  CAST(date_reading AS VARCHAR) AS date_reading,
  CAST(amount AS DECIMAL(18, 3)) AS amount,
  CAST(currency AS VARCHAR) AS currency,
  CAST(fx_rate_date AS DATE) AS fx_rate_date,
  CAST(fx_factor AS DECIMAL(18, 12)) AS fx_factor,
  CAST(amount_base AS DECIMAL(18, 3)) AS amount_base,
  CAST(@currency AS VARCHAR) AS base_currency,
  CAST(observed_at AS TIMESTAMP) AS observed_at,
  CAST(_source AS VARCHAR) AS source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM staged
WHERE reason IS NULL
