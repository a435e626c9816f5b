/*
  silver.stg_sales: the pending batches' sales lines (product, quantity, unit price,
  date; no customer), typed, converted to the base currency and classified.

  Dates come in several shapes (ISO, a/b/YYYY either way round, MM-DD-YYYY, blank):
  they are read by the source's `[sources.<name>.dates]` rules (macros/dates.py), and a
  day/month date that could be read both ways is `ambiguous_date` unless the config says
  how to read it. Never guessed. Currency and conversion as silver.stg_transactions.
  Rejected, first rule wins: malformed_record, missing_field:transaction_id,
  duplicate_key, missing/ambiguous/unparseable transaction_date, missing/unparseable
  quantity and price, non_positive_quantity (-1 and 0 occur), non_positive_price
  (negative prices occur), invalid_currency, missing_exchange_rate. A product id that
  matches no product is not a reason here: the fact points it at the unknown product
  and keeps the id, so it never vanishes.
*/
MODEL (
  name silver.stg_sales,
  kind VIEW,
  description 'Pending sales lines, typed, converted and classified: reason NULL = good row.'
);

WITH pending_rows AS (
  SELECT bronze_sales.*
  FROM bronze.sales AS bronze_sales
  INNER JOIN bronze.pending_sale_batches AS pending
    ON bronze_sales._batch_id = pending.batch_id
),

with_rules AS (
  SELECT
    pending_rows.*,
    COALESCE(settings.currency, @currency) AS default_currency,
    COALESCE(settings.slash_dates, 'infer') AS slash_rule,
    COALESCE(settings.dash_dates, 'infer') AS dash_rule,
    COALESCE(settings.dot_dates, 'infer') AS dot_rule,
    COALESCE(settings.ambiguous_dates, 'quarantine') AS ambiguous_rule
  FROM pending_rows
  LEFT JOIN bronze.source_settings AS settings
    ON pending_rows._source = settings.source
),

typed AS (
  SELECT
    NULLIF(TRIM(transaction_id), '') AS transaction_id,
    NULLIF(TRIM(product_id), '') AS product_id,
    NULLIF(TRIM(quantity), '') AS quantity_text,
    TRY_CAST(NULLIF(TRIM(quantity), '') AS DECIMAL(38, 6)) AS quantity_number,
    NULLIF(TRIM(price), '') AS price_text,
    TRY_CAST(NULLIF(TRIM(price), '') AS DECIMAL(18, 3)) AS unit_price,
    COALESCE(UPPER(NULLIF(TRIM(currency), '')), default_currency) AS currency,
    @parse_day(transaction_date, slash_rule, dash_rule, dot_rule, ambiguous_rule) AS transaction_day,
    @day_reading(transaction_date, slash_rule, dash_rule, dot_rule, ambiguous_rule) AS date_reading,
    transaction_id AS raw_transaction_id,
    product_id AS raw_product_id,
    quantity AS raw_quantity,
    price AS raw_price,
    transaction_date AS raw_transaction_date,
    currency AS raw_currency,
    _error,
    _source,
    _batch_id,
    _source_file,
    _source_row,
    _ingested_at
  FROM with_rules
),

with_fx AS (
  SELECT
    typed.*,
    fx.rate_date AS fx_rate_date,
    fx.factor AS fx_factor,
    ROW_NUMBER() OVER (PARTITION BY typed._batch_id, typed._source_row ORDER BY fx.rate_date DESC) AS fx_rank
  FROM typed
  LEFT JOIN silver.fx_to_base AS fx
    ON typed.currency <> @currency
    AND fx.currency = typed.currency
    AND fx.rate_date <= typed.transaction_day
    AND DATE_ADD(fx.rate_date, @max_rate_age_days) >= typed.transaction_day
),

classified AS (
  SELECT
    with_fx.*,
    CASE WHEN quantity_number = FLOOR(quantity_number) AND ABS(quantity_number) <= 2147483647
      THEN CAST(quantity_number AS INT) END AS quantity,
    ROW_NUMBER() OVER (PARTITION BY _batch_id, transaction_id ORDER BY _source_row DESC) AS copy_from_last
  FROM with_fx
  WHERE fx_rank = 1
),

reasoned AS (
  SELECT
    classified.*,
    CASE
      WHEN _error IS NOT NULL THEN 'malformed_record'
      WHEN transaction_id IS NULL THEN 'missing_field:transaction_id'
      WHEN copy_from_last > 1 THEN 'duplicate_key'
      WHEN date_reading = 'missing' THEN 'missing_field:transaction_date'
      WHEN date_reading = 'ambiguous' THEN 'ambiguous_date'
      WHEN transaction_day IS NULL THEN 'unparseable:transaction_date'
      WHEN quantity_text IS NULL THEN 'missing_field:quantity'
      WHEN quantity IS NULL THEN 'unparseable:quantity'
      WHEN price_text IS NULL THEN 'missing_field:price'
      WHEN unit_price IS NULL THEN 'unparseable:price'
      WHEN quantity <= 0 THEN 'non_positive_quantity'
      WHEN unit_price <= 0 THEN 'non_positive_price'
      WHEN LENGTH(currency) <> 3 THEN 'invalid_currency'
      WHEN currency <> @currency AND fx_factor IS NULL THEN 'missing_exchange_rate'
    END AS reason
  FROM classified
)

SELECT
  transaction_id,
  product_id,
  quantity,
  unit_price,
  CAST(CAST(quantity AS DECIMAL(38, 0)) * unit_price AS DECIMAL(18, 3)) AS amount,
  transaction_day AS transaction_date,
  date_reading,
  currency,
  fx_rate_date,
  CASE WHEN currency = @currency THEN CAST(1 AS DECIMAL(18, 12)) ELSE fx_factor END AS fx_factor,
  CASE
    WHEN currency = @currency THEN CAST(CAST(quantity AS DECIMAL(38, 0)) * unit_price AS DECIMAL(18, 3))
    ELSE CAST(CAST(quantity AS DECIMAL(38, 0)) * unit_price * fx_factor AS DECIMAL(18, 3))
  END AS amount_base,
  reason,
  CASE
    WHEN reason IN ('missing_field:transaction_id', 'duplicate_key') THEN 'transaction_id'
    WHEN reason IN ('missing_field:transaction_date', 'ambiguous_date', 'unparseable:transaction_date')
      THEN 'transaction_date'
    WHEN reason IN ('missing_field:quantity', 'unparseable:quantity', 'non_positive_quantity') THEN 'quantity'
    WHEN reason IN ('missing_field:price', 'unparseable:price', 'non_positive_price') THEN 'price'
    WHEN reason IN ('invalid_currency', 'missing_exchange_rate') THEN 'currency'
  END AS field,
  CASE
    WHEN reason IN ('missing_field:transaction_id', 'duplicate_key') THEN raw_transaction_id
    WHEN reason IN ('missing_field:transaction_date', 'ambiguous_date', 'unparseable:transaction_date')
      THEN raw_transaction_date
    WHEN reason IN ('missing_field:quantity', 'unparseable:quantity', 'non_positive_quantity') THEN raw_quantity
    WHEN reason IN ('missing_field:price', 'unparseable:price', 'non_positive_price') THEN raw_price
    WHEN reason IN ('invalid_currency', 'missing_exchange_rate') THEN currency
    WHEN reason = 'malformed_record' THEN _error
  END AS raw_value,
  raw_transaction_id,
  raw_product_id,
  raw_quantity,
  raw_price,
  raw_transaction_date,
  raw_currency,
  _source,
  _batch_id,
  _source_file,
  _source_row,
  _ingested_at
FROM reasoned
