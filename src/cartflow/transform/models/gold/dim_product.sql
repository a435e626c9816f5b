/*
  gold.dim_product: products (stock codes), SCD Type 2 on description, in business time.

  Built exactly like gold.dim_customer, with the same macros (macros/scd2.py; see
  dim_customer for why not SCD_TYPE_2_BY_COLUMN): a version is a run of consecutive sightings of the same
  description ordered by invoice_ts, so the latest description wins from the moment it
  is first used; a NULL description never opens a version (a stock code only ever seen
  without one gets a single NULL-description version); two descriptions at the same
  invoice_ts collapse to MAX(description). Only stock codes touched by the pending
  batches are recomputed.

  is_product is false for the non-product codes (postage, fees, manual lines,
  adjustments, vouchers, ...; list in docs/definitions.md): they count in revenue but
  not in product rankings.

  Conformed across sources: product records (silver.products: PostgreSQL tables, a
  products REST API, products.csv drops) are sightings too, keyed by their product id,
  at their observed_at; their name is the description, and a version also tracks
  category and list price (a re-pricing opens a version). `source` names the source of
  each version. Once any transaction or sales line exists, the unknown member
  (@unknown_id, valid from @unknown_from, never a product) stands for lines whose product
  id matches none.
*/
MODEL (
  name gold.dim_product,
  tags (publish),
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key product_sk
  ),
  grain product_sk,
  description 'Product dimension, SCD2 on description in business time, with is_product.',
  audits (
    not_null(columns := (product_sk, stock_code, valid_from, is_current, is_product)),
    unique_values(columns := (product_sk)),
    unique_combination_of_columns(columns := (stock_code, valid_from))
  )
);

WITH pending_batches AS (
  SELECT batch_id FROM bronze.pending_order_line_batches
  UNION ALL
  SELECT batch_id FROM bronze.pending_product_batches
),

-- `attributes` is what a version tracks: an order line's description, a product record's
-- name, category, list price and currency.
observations AS (
  SELECT
    stock_code,
    invoice_ts,
    _batch_id,
    description AS attributes,
    description,
    CAST(NULL AS VARCHAR) AS category,
    CAST(NULL AS DECIMAL(18, 3)) AS list_price,
    CAST(NULL AS VARCHAR) AS currency,
    COALESCE(_source, 'online_retail') AS source
  FROM silver.order_lines
  UNION ALL
  SELECT
    product_id AS stock_code,
    observed_at AS invoice_ts,
    _batch_id,
    product_name || '|' || category || '|' || COALESCE(CAST(list_price AS VARCHAR), '') || '|' || currency
      AS attributes,
    product_name AS description,
    category,
    list_price,
    currency,
    source
  FROM silver.products
),

touched_products AS (
  SELECT DISTINCT observations.stock_code
  FROM observations
  INNER JOIN pending_batches ON observations._batch_id = pending_batches.batch_id
),

-- One sighting per product and instant: the greatest attributes (for order lines,
-- MAX(description)), with the attribute columns of that row.
sightings AS (
  SELECT stock_code, invoice_ts, attributes, description, category, list_price, currency, source
  FROM (
    SELECT
      observations.*,
      ROW_NUMBER() OVER (
        PARTITION BY observations.stock_code, observations.invoice_ts
        ORDER BY observations.attributes DESC NULLS LAST, observations.source
      ) AS pick
    FROM observations
    INNER JOIN touched_products ON observations.stock_code = touched_products.stock_code
  ) AS candidates
  WHERE pick = 1
),

current_history AS (
  @scd2_versions(sightings, stock_code, invoice_ts, product_sk, [description, category, list_price, currency])
),

superseded AS (
  @scd2_superseded(gold.dim_product, touched_products, current_history, stock_code, product_sk,
    [description, category, list_price, currency])
),

-- Emitted (and upserted) once transactions or sales exist: Online Retail lines always
-- name a stock code, so a project without other sources has no unknown product.
unknown_member AS (
  SELECT
    @unknown_sk() AS product_sk,
    @unknown_id() AS stock_code,
    1 AS version,
    @unknown_from() AS valid_from,
    CAST(NULL AS TIMESTAMP) AS valid_to,
    'cartflow' AS source,
    'Unknown' AS description,
    'Unknown' AS category,
    CAST(NULL AS DECIMAL(18, 3)) AS list_price,
    CAST(NULL AS VARCHAR) AS currency
  FROM (
    SELECT COUNT(*) AS lines
    FROM (
      SELECT _batch_id FROM silver.transactions
      UNION ALL
      SELECT _batch_id FROM silver.sales
    ) AS entity_lines
  ) AS counted
  WHERE counted.lines > 0
),

dimension AS (
  SELECT * FROM current_history
  UNION ALL
  SELECT * FROM superseded
  UNION ALL
  SELECT * FROM unknown_member
)

SELECT
  CAST(product_sk AS VARCHAR) AS product_sk,
  CAST(stock_code AS VARCHAR) AS stock_code,
  CAST(description AS VARCHAR) AS description,
  CAST(
    stock_code <> @unknown_id()
    AND stock_code NOT IN (
      'POST', 'DOT', 'M', 'C2', 'D', 'S', 'BANK CHARGES', 'AMAZONFEE', 'CRUK', 'PADS', 'B'
    )
    AND SUBSTRING(stock_code, 1, 5) <> 'GIFT_'
    AND SUBSTRING(stock_code, 1, 4) <> 'DCGS'
    AS BOOLEAN
  ) AS is_product,
  CAST(version AS INT) AS version,
  CAST(valid_from AS TIMESTAMP) AS valid_from,
  CAST(valid_to AS TIMESTAMP) AS valid_to,
  CAST(valid_to IS NULL AS BOOLEAN) AS is_current,
  CAST(category AS VARCHAR) AS category,
  CAST(list_price AS DECIMAL(18, 3)) AS list_price,
  CAST(currency AS VARCHAR) AS currency,
  CAST(source AS VARCHAR) AS source
FROM dimension
