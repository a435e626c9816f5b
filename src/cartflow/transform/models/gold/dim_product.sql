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
*/
MODEL (
  name gold.dim_product,
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
),

order_lines AS (
  SELECT stock_code, description, invoice_ts, _batch_id
  FROM silver.order_lines
),

touched_products AS (
  SELECT DISTINCT order_lines.stock_code
  FROM order_lines
  INNER JOIN pending_batches ON order_lines._batch_id = pending_batches.batch_id
),

sightings AS (
  SELECT
    order_lines.stock_code,
    order_lines.invoice_ts,
    MAX(order_lines.description) AS description
  FROM order_lines
  INNER JOIN touched_products ON order_lines.stock_code = touched_products.stock_code
  GROUP BY order_lines.stock_code, order_lines.invoice_ts
),

first_sightings AS (
  SELECT stock_code, MIN(invoice_ts) AS first_ts
  FROM sightings
  GROUP BY stock_code
),

changes AS (
  SELECT
    stock_code,
    invoice_ts,
    description,
    CASE
      WHEN LAG(description) OVER (PARTITION BY stock_code ORDER BY invoice_ts) = description THEN 0
      ELSE 1
    END AS opens_version
  FROM sightings
  WHERE description IS NOT NULL
),

numbered AS (
  SELECT
    stock_code,
    invoice_ts,
    description,
    SUM(opens_version) OVER (
      PARTITION BY stock_code ORDER BY invoice_ts
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS version
  FROM changes
),

description_versions AS (
  SELECT stock_code, version, MAX(description) AS description, MIN(invoice_ts) AS first_ts
  FROM numbered
  GROUP BY stock_code, version
),

undescribed_products AS (
  SELECT first_sightings.stock_code, 1 AS version, CAST(NULL AS VARCHAR) AS description, first_sightings.first_ts
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
      AS valid_from
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
    LEAD(valid_from) OVER (PARTITION BY stock_code ORDER BY valid_from) AS valid_to
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
    previous_history.valid_from AS valid_to
  FROM previous_history
  LEFT JOIN current_history ON previous_history.product_sk = current_history.product_sk
  WHERE current_history.product_sk IS NULL
),

dimension AS (
  SELECT * FROM current_history
  UNION ALL
  SELECT * FROM superseded
)

SELECT
  CAST(product_sk AS VARCHAR) AS product_sk,
  CAST(stock_code AS VARCHAR) AS stock_code,
  CAST(description AS VARCHAR) AS description,
  CAST(
    stock_code NOT IN (
      'POST', 'DOT', 'M', 'C2', 'D', 'S', 'BANK CHARGES', 'AMAZONFEE', 'CRUK', 'PADS', 'B'
    )
    AND SUBSTRING(stock_code, 1, 5) <> 'GIFT_'
    AND SUBSTRING(stock_code, 1, 4) <> 'DCGS'
    AS BOOLEAN
  ) AS is_product,
  CAST(version AS INT) AS version,
  CAST(valid_from AS TIMESTAMP) AS valid_from,
  CAST(valid_to AS TIMESTAMP) AS valid_to,
  CAST(valid_to IS NULL AS BOOLEAN) AS is_current
FROM dimension
