/*
  silver.stg_products: the pending batches' product records, typed and classified.
  `reason` NULL = a good row (silver.products); otherwise silver.quarantine_products.

  Rejected only without a usable identity: `malformed_record`, `missing_field:product_id`,
  `too_long:product_id`, `out_of_range:updated_at` (outside the run's date window: it
  would date an SCD2 version), or `duplicate_key` (an older copy of a product sent again
  later in the same batch). A product with an impossible list price (negative, zero, not
  a number, beyond the contract's range) is kept, because orders point at it, with
  list_price NULL and price_status saying why; negative stock is kept as it is
  (back-orders exist) and flagged in `issues`, stock beyond BIGINT is NULL
  (stock_status out_of_range). A name or category longer than the contract allows is
  'Unknown', an invalid currency code the source's default; both flagged in `issues`.
*/
MODEL (
  name silver.stg_products,
  kind VIEW,
  description 'Pending product records, typed and classified: reason NULL = good row.'
);

WITH pending_rows AS (
  SELECT bronze_products.*
  FROM bronze.products AS bronze_products
  INNER JOIN bronze.pending_product_batches AS pending
    ON bronze_products._batch_id = pending.batch_id
),

with_rules AS (
  SELECT
    pending_rows.*,
    COALESCE(settings.currency, @currency) AS default_currency,
    settings.date_format,
    settings.timezone,
    @window_start(settings.window_start) AS window_start,
    @window_end(settings.window_end) AS window_end
  FROM pending_rows
  LEFT JOIN bronze.source_settings AS settings
    ON pending_rows._source = settings.source
),

trimmed AS (
  SELECT
    NULLIF(TRIM(product_id), '') AS product_id,
    NULLIF(TRIM(product_name), '') AS name_text,
    NULLIF(TRIM(category), '') AS category_text,
    NULLIF(TRIM(price), '') AS price_text,
    NULLIF(TRIM(stock_available), '') AS stock_text,
    UPPER(NULLIF(TRIM(currency), '')) AS currency_text,
    default_currency,
    NULLIF(TRIM(updated_at), '') AS updated_at_text,
    date_format,
    timezone,
    window_start,
    window_end,
    product_id AS raw_product_id,
    product_name AS raw_product_name,
    category AS raw_category,
    price AS raw_price,
    stock_available AS raw_stock_available,
    currency AS raw_currency,
    updated_at AS raw_updated_at,
    _error,
    _source,
    _batch_id,
    _source_file,
    _source_row,
    _ingested_at
  FROM with_rules
),

typed AS (
  SELECT
    trimmed.*,
    TRY_CAST(price_text AS DECIMAL(18, 3)) AS price_number,
    TRY_CAST(stock_text AS DECIMAL(38, 6)) AS stock_number,
    @parse_timestamp(updated_at_text, date_format, timezone, @date_formats) AS updated_at,
    @too_long(name_text, 'products', 'product_name') AS name_too_long,
    @too_long(category_text, 'products', 'category') AS category_too_long,
    -- a currency is three letters (the contract's `currency` type)
    COALESCE(REGEXP_MATCHES(currency_text, '^[A-Z]{3}$'), TRUE) AS currency_valid,
    ROW_NUMBER() OVER (PARTITION BY _batch_id, product_id ORDER BY _source_row DESC) AS copy_from_last
  FROM trimmed
),

classified AS (
  SELECT
    typed.*,
    CASE
      WHEN _error IS NOT NULL THEN 'malformed_record'
      WHEN product_id IS NULL THEN 'missing_field:product_id'
      WHEN @too_long(product_id, 'products', 'product_id') THEN 'too_long:product_id'
      WHEN @out_of_range(updated_at, 'products', 'updated_at', window_start, window_end)
        THEN 'out_of_range:updated_at'
      WHEN copy_from_last > 1 THEN 'duplicate_key'
    END AS reason,
    COALESCE(updated_at, _ingested_at) AS observed_at,
    CASE WHEN NOT name_too_long THEN name_text END AS kept_name,
    CASE WHEN NOT category_too_long THEN category_text END AS kept_category,
    CASE WHEN currency_valid THEN COALESCE(currency_text, default_currency) ELSE default_currency END AS currency,
    CASE
      WHEN price_text IS NULL THEN 'unknown'
      WHEN price_number IS NULL AND @out_of_range(price_text, 'products', 'price') THEN 'out_of_range'
      WHEN price_number IS NULL THEN 'unparseable'
      WHEN price_number <= 0 THEN 'non_positive'
      ELSE 'valid'
    END AS price_status,
    CASE
      WHEN stock_text IS NULL THEN 'unknown'
      WHEN stock_number IS NULL AND @out_of_range(stock_text, 'products', 'stock_available') THEN 'out_of_range'
      WHEN stock_number IS NULL OR stock_number <> FLOOR(stock_number) THEN 'unparseable'
      WHEN NOT @in_range(stock_number, 'products', 'stock_available') THEN 'out_of_range'
      WHEN stock_number < 0 THEN 'negative'
      ELSE 'valid'
    END AS stock_status
  FROM typed
)

SELECT
  product_id,
  COALESCE(kept_name, 'Unknown') AS product_name,
  COALESCE(kept_category, 'Unknown') AS category,
  CASE WHEN price_status = 'valid' THEN price_number END AS list_price,
  price_status,
  CASE WHEN stock_status IN ('valid', 'negative') THEN CAST(stock_number AS BIGINT) END AS stock_available,
  stock_status,
  currency,
  observed_at,
  NULLIF(SUBSTRING(
    CASE WHEN name_too_long THEN ',name:too_long' WHEN name_text IS NULL THEN ',name:unknown' ELSE '' END
    || CASE WHEN category_too_long THEN ',category:too_long' WHEN category_text IS NULL THEN ',category:unknown' ELSE '' END
    || CASE WHEN NOT currency_valid THEN ',currency:invalid' ELSE '' END
    || CASE WHEN price_status <> 'valid' THEN ',price:' || price_status ELSE '' END
    || CASE WHEN stock_status <> 'valid' THEN ',stock:' || stock_status ELSE '' END,
    2
  ), '') AS issues,
  reason,
  @reason_field(reason, 'products') AS field,
  CASE
    WHEN reason IN ('missing_field:product_id', 'too_long:product_id', 'duplicate_key') THEN raw_product_id
    WHEN reason = 'out_of_range:updated_at' THEN raw_updated_at
    WHEN reason = 'malformed_record' THEN _error
  END AS raw_value,
  raw_product_id,
  raw_product_name,
  raw_category,
  raw_price,
  raw_stock_available,
  raw_currency,
  raw_updated_at,
  _source,
  _batch_id,
  _source_file,
  _source_row,
  _ingested_at
FROM classified
