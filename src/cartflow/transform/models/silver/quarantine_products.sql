/*
  silver.quarantine_products: every rejected product record, as received, with why.
*/
MODEL (
  name silver.quarantine_products,
  tags (publish),
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (_batch_id, _source_row)
  ),
  grain (_batch_id, _source_row),
  description 'Rejected product records: reason, offending field and value, raw columns, lineage.',
  audits (
    not_null(columns := (_batch_id, _source_row, entity, reason))
  )
);

WITH staged AS (
  SELECT * FROM silver.stg_products
)

SELECT
  CAST('products' AS VARCHAR) AS entity,
  CAST(reason AS VARCHAR) AS reason,
  CAST(field AS VARCHAR) AS field,
  CAST(raw_value AS VARCHAR) AS raw_value,
  CAST(raw_product_id AS VARCHAR) AS product_id,
  CAST(raw_product_name AS VARCHAR) AS product_name,
  CAST(raw_category AS VARCHAR) AS category,
  CAST(raw_price AS VARCHAR) AS price,
  CAST(raw_stock_available AS VARCHAR) AS stock_available,
  CAST(raw_currency AS VARCHAR) AS currency,
  CAST(raw_updated_at AS VARCHAR) AS updated_at,
  CAST(_source AS VARCHAR) AS source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM staged
WHERE reason IS NOT NULL
