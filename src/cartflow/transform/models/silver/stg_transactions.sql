/*
  silver.stg_transactions: the pending batches' transactions (orders with a total),
  typed, converted to the base currency and classified. `reason` NULL = a good row.

  Currency: the row's own, else the source's configured one, else [currency] base.
  Conversion joins silver.fx_daily on the transaction's day (the latest rate at most
  @max_rate_age_days old); no such rate is a quarantine reason, never a silent NULL.
  Dates: the source's date_format, ISO 8601 (zone converted to the shop's), else the
  day/month rules (bronze.source_settings, macros/dates.py). Values outside the entity's
  contract (cartflow.entities: lengths, ranges, the run's date window, an amount that
  does not fit DECIMAL(18, 3) once converted) are quarantined too.
  Rejected, first rule wins: malformed_record, missing_field:transaction_id,
  too_long:transaction_id, duplicate_key (an older copy later sent again in the batch),
  missing/ambiguous/unparseable/out_of_range transaction_date, missing/out_of_range/
  unparseable quantity and total_amount, too_long customer_id/product_id,
  out_of_range:updated_at, non_positive_quantity, negative_amount, invalid_currency,
  missing_exchange_rate, out_of_range:total_amount (converted).
  A missing customer or product id is kept (the fact uses the unknown member).
*/
MODEL (
  name silver.stg_transactions,
  -- FULL, not VIEW: rebuilt from the pending batches each run, and on Spark the Hive
  -- metastore keeps a view's text in at most 32,700 characters, which the date and
  -- contract checks of this model exceed.
  kind FULL,
  description 'Pending transactions, typed, converted and classified: reason NULL = good row.'
);

WITH pending_rows AS (
  SELECT bronze_transactions.*
  FROM bronze.transactions AS bronze_transactions
  INNER JOIN bronze.pending_transaction_batches AS pending
    ON bronze_transactions._batch_id = pending.batch_id
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
    NULLIF(TRIM(customer_id), '') AS customer_id,
    NULLIF(TRIM(product_id), '') AS product_id,
    NULLIF(TRIM(quantity), '') AS quantity_text,
    TRY_CAST(NULLIF(TRIM(quantity), '') AS DECIMAL(38, 6)) AS quantity_number,
    NULLIF(TRIM(total_amount), '') AS amount_text,
    TRY_CAST(NULLIF(TRIM(total_amount), '') AS DECIMAL(18, 3)) AS amount,
    COALESCE(UPPER(NULLIF(TRIM(currency), '')), default_currency) AS currency,
    @parse_timestamp(transaction_date, date_format, timezone, @date_formats) AS transaction_date_ts,
    slash_rule,
    dash_rule,
    dot_rule,
    ambiguous_rule,
    @parse_timestamp(NULLIF(TRIM(updated_at), ''), date_format, timezone, @date_formats) AS updated_at,
    transaction_id AS raw_transaction_id,
    customer_id AS raw_customer_id,
    product_id AS raw_product_id,
    quantity AS raw_quantity,
    transaction_date AS raw_transaction_date,
    total_amount AS raw_total_amount,
    currency AS raw_currency,
    updated_at AS raw_updated_at,
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
    COALESCE(dated.updated_at, dated._ingested_at) AS observed_at,
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
    CASE WHEN quantity_number = FLOOR(quantity_number) AND @in_range(quantity_number, 'transactions', 'quantity')
      THEN CAST(quantity_number AS INT) END AS quantity,
    CAST(amount AS DECIMAL(38, 3)) * fx_factor AS amount_converted,
    ROW_NUMBER() OVER (PARTITION BY _batch_id, transaction_id ORDER BY _source_row DESC) AS copy_from_last
  FROM with_fx
),

reasoned AS (
  SELECT
    classified.*,
    CASE
      WHEN _error IS NOT NULL THEN 'malformed_record'
      WHEN transaction_id IS NULL THEN 'missing_field:transaction_id'
      WHEN @too_long(transaction_id, 'transactions', 'transaction_id') THEN 'too_long:transaction_id'
      WHEN copy_from_last > 1 THEN 'duplicate_key'
      WHEN date_reading = 'missing' THEN 'missing_field:transaction_date'
      WHEN date_reading = 'ambiguous' THEN 'ambiguous_date'
      WHEN transaction_day IS NULL THEN 'unparseable:transaction_date'
      WHEN @out_of_range(transaction_day, 'transactions', 'transaction_date', window_start, window_end)
        THEN 'out_of_range:transaction_date'
      WHEN quantity_text IS NULL THEN 'missing_field:quantity'
      WHEN quantity IS NULL AND @out_of_range(quantity_text, 'transactions', 'quantity') THEN 'out_of_range:quantity'
      WHEN quantity IS NULL THEN 'unparseable:quantity'
      WHEN amount_text IS NULL THEN 'missing_field:total_amount'
      WHEN amount IS NULL AND @out_of_range(amount_text, 'transactions', 'total_amount')
        THEN 'out_of_range:total_amount'
      WHEN amount IS NULL THEN 'unparseable:total_amount'
      WHEN @too_long(customer_id, 'transactions', 'customer_id') THEN 'too_long:customer_id'
      WHEN @too_long(product_id, 'transactions', 'product_id') THEN 'too_long:product_id'
      WHEN @out_of_range(updated_at, 'transactions', 'updated_at', window_start, window_end)
        THEN 'out_of_range:updated_at'
      WHEN quantity <= 0 THEN 'non_positive_quantity'
      WHEN amount < 0 THEN 'negative_amount'
      WHEN LENGTH(currency) <> 3 THEN 'invalid_currency'
      WHEN fx_factor IS NULL THEN 'missing_exchange_rate'
      WHEN @exceeds_money(amount_converted) THEN 'out_of_range:total_amount'
    END AS reason
  FROM classified
),

located AS (
  SELECT
    reasoned.*,
    @reason_field(reason, 'transactions') AS field
  FROM reasoned
)

SELECT
  transaction_id,
  customer_id,
  product_id,
  quantity,
  transaction_day AS transaction_date,
  date_reading,
  amount,
  currency,
  fx_rate_date,
  fx_factor,
  CASE WHEN reason IS NULL THEN CAST(amount_converted AS DECIMAL(18, 3)) END AS amount_base,
  observed_at,
  reason,
  field,
  CASE field
    WHEN 'transaction_id' THEN raw_transaction_id
    WHEN 'transaction_date' THEN raw_transaction_date
    WHEN 'quantity' THEN raw_quantity
    WHEN 'total_amount' THEN raw_total_amount
    WHEN 'customer_id' THEN raw_customer_id
    WHEN 'product_id' THEN raw_product_id
    WHEN 'updated_at' THEN raw_updated_at
    WHEN 'currency' THEN currency
    WHEN 'row' THEN _error
  END AS raw_value,
  raw_transaction_id,
  raw_customer_id,
  raw_product_id,
  raw_quantity,
  raw_transaction_date,
  raw_total_amount,
  raw_currency,
  raw_updated_at,
  _source,
  _batch_id,
  _source_file,
  _source_row,
  _ingested_at
FROM located
