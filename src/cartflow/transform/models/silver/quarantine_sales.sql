/*
  silver.quarantine_sales: every rejected sales line, as received, with why.
*/
MODEL (
  name silver.quarantine_sales,
  tags (publish),
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (_batch_id, _source_row)
  ),
  grain (_batch_id, _source_row),
  description 'Rejected sales lines: reason, offending field and value, raw columns, lineage.',
  audits (
    not_null(columns := (_batch_id, _source_row, entity, reason))
  )
);

WITH staged AS (
  SELECT * FROM silver.stg_sales
)

SELECT
  CAST('sales' AS VARCHAR) AS entity,
  CAST(reason AS VARCHAR) AS reason,
  CAST(field AS VARCHAR) AS field,
  CAST(raw_value AS VARCHAR) AS raw_value,
  CAST(raw_transaction_id AS VARCHAR) AS transaction_id,
  CAST(raw_product_id AS VARCHAR) AS product_id,
  CAST(raw_quantity AS VARCHAR) AS quantity,
  CAST(raw_price AS VARCHAR) AS price,
  CAST(raw_transaction_date AS VARCHAR) AS transaction_date,
  CAST(raw_currency AS VARCHAR) AS currency,
  CAST(_source AS VARCHAR) AS source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM staged
WHERE reason IS NOT NULL
