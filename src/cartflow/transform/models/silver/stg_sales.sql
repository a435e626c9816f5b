/*
  silver.stg_sales: the pending batches' sales lines (product, quantity, unit price,
  date; no customer), typed, converted to the base currency and classified.

  Dates come in several shapes (ISO, a/b/YYYY either way round, MM-DD-YYYY, blank):
  the source's date_format, ISO 8601 (zone converted), else the source's
  `[sources.<name>.dates]` rules (macros/dates.py); a day/month date that could be read
  both ways is `ambiguous_date` unless the config says how to read it. Never guessed.
  Currency and conversion as silver.stg_transactions (silver.fx_daily, equality join).
  Values outside the contract (cartflow.entities) are quarantined: lengths, ranges, the
  run's date window, and an amount (quantity x price, converted) beyond DECIMAL(18, 3)
  (`out_of_range:price`).
  Rejected, first rule wins: malformed_record, missing_field:transaction_id,
  too_long:transaction_id, duplicate_key, missing/ambiguous/unparseable/out_of_range
  transaction_date, missing/out_of_range/unparseable quantity and price,
  too_long:product_id, non_positive_quantity (-1 and 0 occur), non_positive_price
  (negative prices occur), invalid_currency, missing_exchange_rate, out_of_range:price
  (the amount). A product id that matches no product is not a reason here: the fact
  points it at the unknown product and keeps the id, so it never vanishes.
*/
MODEL (
  name silver.stg_sales,
  -- FULL, not VIEW: rebuilt from the pending batches each run, and on Spark the Hive
  -- metastore keeps a view's text in at most 32,700 characters, which the date and
  -- contract checks of this model exceed.
  kind FULL,
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
    COALESCE(settings.ambiguous_dates, 'quarantine') AS ambiguous_rule,
    settings.date_format,
    settings.timezone,
    @window_start(settings.window_start) AS window_start,
    @window_end(settings.window_end) AS window_end
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
    @parse_timestamp(transaction_date, date_format, timezone, @date_formats) AS transaction_date_ts,
    slash_rule,
    dash_rule,
    dot_rule,
    ambiguous_rule,
    transaction_id AS raw_transaction_id,
    product_id AS raw_product_id,
    quantity AS raw_quantity,
    price AS raw_price,
    transaction_date AS raw_transaction_date,
    currency AS raw_currency,
    window_start,
    window_end,
    _error,
    _source,
    _batch_id,
    _source_file,
    _source_row,
    _ingested_at
  FROM with_rules
),

-- The source's format or ISO 8601 (zone converted) first, else the day/month rules.
dated AS (
  SELECT
    typed.*,
    @parse_date(raw_transaction_date, transaction_date_ts, slash_rule, dash_rule, dot_rule, ambiguous_rule) AS transaction_day,
    @date_reading(raw_transaction_date, transaction_date_ts, slash_rule, dash_rule, dot_rule, ambiguous_rule) AS date_reading
  FROM typed
),

with_fx AS (
  SELECT
    dated.*,
    fx.rate_date AS fx_rate_date,
    CASE WHEN dated.currency = @currency THEN CAST(1 AS DECIMAL(18, 12)) ELSE fx.factor END AS fx_factor
  FROM dated
  LEFT JOIN silver.fx_daily AS fx
    ON dated.currency <> @currency
    AND fx.currency = dated.currency
    AND fx.day = dated.transaction_day
),

classified AS (
  SELECT
    with_fx.*,
    CASE WHEN quantity_number = FLOOR(quantity_number) AND @in_range(quantity_number, 'sales', 'quantity')
      THEN CAST(quantity_number AS INT) END AS quantity,
    ROW_NUMBER() OVER (PARTITION BY _batch_id, transaction_id ORDER BY _source_row DESC) AS copy_from_last
  FROM with_fx
),

amounts AS (
  SELECT
    classified.*,
    CAST(quantity AS DECIMAL(38, 0)) * unit_price AS amount_wide
  FROM classified
),

-- Converted only when the amount fits: DECIMAL(18, 3) x DECIMAL(18, 12) stays within 38 digits.
converted AS (
  SELECT
    amounts.*,
    CASE WHEN NOT @exceeds_money(amount_wide) THEN amount_wide * fx_factor END AS amount_converted
  FROM amounts
),

reasoned AS (
  SELECT
    converted.*,
    CASE
      WHEN _error IS NOT NULL THEN 'malformed_record'
      WHEN transaction_id IS NULL THEN 'missing_field:transaction_id'
      WHEN @too_long(transaction_id, 'sales', 'transaction_id') THEN 'too_long:transaction_id'
      WHEN copy_from_last > 1 THEN 'duplicate_key'
      WHEN date_reading = 'missing' THEN 'missing_field:transaction_date'
      WHEN date_reading = 'ambiguous' THEN 'ambiguous_date'
      WHEN transaction_day IS NULL THEN 'unparseable:transaction_date'
      WHEN @out_of_range(transaction_day, 'sales', 'transaction_date', window_start, window_end)
        THEN 'out_of_range:transaction_date'
      WHEN quantity_text IS NULL THEN 'missing_field:quantity'
      WHEN quantity IS NULL AND @out_of_range(quantity_text, 'sales', 'quantity') THEN 'out_of_range:quantity'
      WHEN quantity IS NULL THEN 'unparseable:quantity'
      WHEN price_text IS NULL THEN 'missing_field:price'
      WHEN unit_price IS NULL AND @out_of_range(price_text, 'sales', 'price') THEN 'out_of_range:price'
      WHEN unit_price IS NULL THEN 'unparseable:price'
      WHEN @too_long(product_id, 'sales', 'product_id') THEN 'too_long:product_id'
      WHEN quantity <= 0 THEN 'non_positive_quantity'
      WHEN unit_price <= 0 THEN 'non_positive_price'
      WHEN LENGTH(currency) <> 3 THEN 'invalid_currency'
      WHEN fx_factor IS NULL THEN 'missing_exchange_rate'
      WHEN @exceeds_money(amount_wide) OR @exceeds_money(amount_converted) THEN 'out_of_range:price'
    END AS reason
  FROM converted
),

located AS (
  SELECT
    reasoned.*,
    @reason_field(reason, 'sales') AS field
  FROM reasoned
)

SELECT
  transaction_id,
  product_id,
  quantity,
  unit_price,
  CASE WHEN reason IS NULL THEN CAST(amount_wide AS DECIMAL(18, 3)) END AS amount,
  transaction_day AS transaction_date,
  date_reading,
  currency,
  fx_rate_date,
  fx_factor,
  CASE WHEN reason IS NULL THEN CAST(amount_converted AS DECIMAL(18, 3)) END AS amount_base,
  reason,
  field,
  CASE field
    WHEN 'transaction_id' THEN raw_transaction_id
    WHEN 'transaction_date' THEN raw_transaction_date
    WHEN 'quantity' THEN raw_quantity
    WHEN 'price' THEN raw_price
    WHEN 'product_id' THEN raw_product_id
    WHEN 'currency' THEN currency
    WHEN 'row' THEN _error
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
FROM located
