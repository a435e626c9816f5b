/*
  silver.products: good product records, one row per bronze row (each observation of a
  product from each source: the history gold.dim_product versions). Incremental by the
  bronze row's identity: replays change nothing.
*/
MODEL (
  name silver.products,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (_batch_id, _source_row)
  ),
  grain (_batch_id, _source_row),
  description 'Product observations: typed list price (NULL when impossible) and stock, with source and lineage.',
  audits (
    not_null(columns := (_batch_id, _source_row, product_id, product_name, category, price_status, observed_at)),
    accepted_values(column := price_status, is_in := ('valid', 'unknown', 'unparseable', 'non_positive', 'out_of_range'))
  )
);

WITH staged AS (
  SELECT * FROM silver.stg_products
)

SELECT
  CAST(product_id AS VARCHAR) AS product_id,
  CAST(product_name AS VARCHAR) AS product_name,
  CAST(category AS VARCHAR) AS category,
  CAST(list_price AS DECIMAL(18, 3)) AS list_price,
  CAST(price_status AS VARCHAR) AS price_status,
  CAST(stock_available AS BIGINT) AS stock_available,
  CAST(stock_status AS VARCHAR) AS stock_status,
  CAST(currency AS VARCHAR) AS currency,
  CAST(observed_at AS TIMESTAMP) AS observed_at,
  CAST(issues AS VARCHAR) AS issues,
  CAST(_source AS VARCHAR) AS source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM staged
WHERE reason IS NULL
