/*
  gold.dim_product: products (stock codes), SCD Type 2 on description, in business time.

  Built exactly like gold.dim_customer (see its comment for why not
  SCD_TYPE_2_BY_COLUMN): a version is a run of consecutive sightings of the same
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
  each version. Once any transaction or sales line exists, the 'unknown' member (valid
  from 1900-01-01, never a product) stands for lines whose product id matches none.
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
order_lines AS (
  SELECT
    stock_code,
    description,
    invoice_ts,
    _batch_id,
    description AS attributes,
    CAST(NULL AS VARCHAR) AS category,
    CAST(NULL AS DECIMAL(18, 3)) AS list_price,
    CAST(NULL AS VARCHAR) AS currency,
    COALESCE(_source, 'online_retail') AS source
  FROM silver.order_lines
  UNION ALL
  SELECT
    product_id AS stock_code,
    product_name AS description,
    observed_at AS invoice_ts,
    _batch_id,
    product_name || '|' || category || '|' || COALESCE(CAST(list_price AS VARCHAR), '') || '|' || currency
      AS attributes,
    category,
    list_price,
    currency,
    source
  FROM silver.products
),

touched_products AS (
  SELECT DISTINCT order_lines.stock_code
  FROM order_lines
  INNER JOIN pending_batches ON order_lines._batch_id = pending_batches.batch_id
),

-- One sighting per product and instant: the greatest attributes (for order lines,
-- MAX(description)), with the attribute columns of that row.
sightings AS (
  SELECT stock_code, invoice_ts, description, attributes, category, list_price, currency, source
  FROM (
    SELECT
      order_lines.*,
      ROW_NUMBER() OVER (
        PARTITION BY order_lines.stock_code, order_lines.invoice_ts
        ORDER BY order_lines.attributes DESC NULLS LAST, order_lines.source
      ) AS pick
    FROM order_lines
    INNER JOIN touched_products ON order_lines.stock_code = touched_products.stock_code
  ) AS candidates
  WHERE pick = 1
),

first_sightings AS (
  SELECT stock_code, MIN(invoice_ts) AS first_ts, MIN(source) AS source
  FROM sightings
  GROUP BY stock_code
),

changes AS (
  SELECT
    sightings.*,
    CASE
      WHEN LAG(attributes) OVER (PARTITION BY stock_code ORDER BY invoice_ts) = attributes THEN 0
      ELSE 1
    END AS opens_version
  FROM sightings
  WHERE attributes IS NOT NULL
),

numbered AS (
  SELECT
    changes.*,
    SUM(opens_version) OVER (
      PARTITION BY stock_code ORDER BY invoice_ts
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS version
  FROM changes
),

description_versions AS (
  SELECT
    stock_code,
    version,
    MAX(description) AS description,
    MIN(invoice_ts) AS first_ts,
    MAX(category) AS category,
    MAX(list_price) AS list_price,
    MAX(currency) AS currency,
    MIN(source) AS source
  FROM numbered
  GROUP BY stock_code, version
),

undescribed_products AS (
  SELECT
    first_sightings.stock_code,
    1 AS version,
    CAST(NULL AS VARCHAR) AS description,
    first_sightings.first_ts,
    CAST(NULL AS VARCHAR) AS category,
    CAST(NULL AS DECIMAL(18, 3)) AS list_price,
    CAST(NULL AS VARCHAR) AS currency,
    first_sightings.source
  FROM first_sightings
  LEFT JOIN description_versions
    ON first_sightings.stock_code = description_versions.stock_code
  WHERE description_versions.stock_code IS NULL
),

-- The first version starts at the first sighting, even one without a description.
versions AS (
  SELECT
    all_versions.stock_code,
    all_versions.version,
    all_versions.description,
    CASE WHEN all_versions.version = 1 THEN first_sightings.first_ts ELSE all_versions.first_ts END
      AS valid_from,
    all_versions.category,
    all_versions.list_price,
    all_versions.currency,
    all_versions.source
  FROM (
    SELECT * FROM description_versions
    UNION ALL
    SELECT * FROM undescribed_products
  ) AS all_versions
  INNER JOIN first_sightings ON all_versions.stock_code = first_sightings.stock_code
),

current_history AS (
  SELECT
    MD5(stock_code || '|' || CAST(valid_from AS VARCHAR)) AS product_sk,
    stock_code,
    description,
    version,
    valid_from,
    LEAD(valid_from) OVER (PARTITION BY stock_code ORDER BY valid_from) AS valid_to,
    category,
    list_price,
    currency,
    source
  FROM versions
),

previous_history AS (
  SELECT existing.*
  FROM gold.dim_product AS existing
  INNER JOIN touched_products ON existing.stock_code = touched_products.stock_code
),

-- See gold.dim_customer: a version whose start moved keeps its row, with an empty range.
superseded AS (
  SELECT
    previous_history.product_sk,
    previous_history.stock_code,
    previous_history.description,
    previous_history.version,
    previous_history.valid_from,
    previous_history.valid_from AS valid_to,
    previous_history.category,
    previous_history.list_price,
    previous_history.currency,
    previous_history.source
  FROM previous_history
  LEFT JOIN current_history ON previous_history.product_sk = current_history.product_sk
  WHERE current_history.product_sk IS NULL
),

-- Emitted (and upserted) once transactions or sales exist: Online Retail lines always
-- name a stock code, so a project without other sources has no unknown product.
unknown_member AS (
  SELECT
    MD5('unknown|1900-01-01 00:00:00') AS product_sk,
    'unknown' AS stock_code,
    'Unknown' AS description,
    1 AS version,
    CAST('1900-01-01 00:00:00' AS TIMESTAMP) AS valid_from,
    CAST(NULL AS TIMESTAMP) AS valid_to,
    'Unknown' AS category,
    CAST(NULL AS DECIMAL(18, 3)) AS list_price,
    CAST(NULL AS VARCHAR) AS currency,
    'cartflow' AS source
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
    stock_code <> 'unknown'
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
