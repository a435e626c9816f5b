/*
  silver.stg_exchange_rates: the pending batches' rate rows, typed and classified.

  A row means 1 base_currency = exchange_rate units of currency_code on rate_date. Rows
  without a base of their own (the multi-source seed's) take the source's `rate_base`.
  Rejected, first rule wins: malformed_record, missing_field:currency_code,
  invalid_currency_code (not three letters), missing/unparseable/ambiguous rate_date,
  missing_field:exchange_rate, unparseable:exchange_rate, non_positive_rate (negative or
  zero), base_rate_not_one (the base quoted against itself at anything but 1), and
  duplicate_rate: one rate per base, currency and day — of the valid rows for the same
  day in one batch the last one wins, the earlier ones are quarantined.
*/
MODEL (
  name silver.stg_exchange_rates,
  kind VIEW,
  description 'Pending exchange-rate rows, typed and classified: reason NULL = good row.'
);

WITH pending_rows AS (
  SELECT bronze_rates.*
  FROM bronze.exchange_rates AS bronze_rates
  INNER JOIN bronze.pending_exchange_rate_batches AS pending
    ON bronze_rates._batch_id = pending.batch_id
),

with_rules AS (
  SELECT
    pending_rows.*,
    COALESCE(settings.rate_base, 'EUR') AS default_base,
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
    UPPER(COALESCE(NULLIF(TRIM(base_currency), ''), default_base)) AS base_currency,
    UPPER(NULLIF(TRIM(currency_code), '')) AS currency_code,
    NULLIF(TRIM(exchange_rate), '') AS rate_text,
    TRY_CAST(NULLIF(TRIM(exchange_rate), '') AS DECIMAL(28, 10)) AS rate,
    @parse_timestamp(rate_date, date_format, timezone, @date_formats) AS rate_date_ts,
    slash_rule,
    dash_rule,
    dot_rule,
    ambiguous_rule,
    base_currency AS raw_base_currency,
    currency_code AS raw_currency_code,
    exchange_rate AS raw_exchange_rate,
    rate_date AS raw_rate_date,
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
    @parse_date(raw_rate_date, rate_date_ts, slash_rule, dash_rule, dot_rule, ambiguous_rule) AS rate_day,
    @date_reading(raw_rate_date, rate_date_ts, slash_rule, dash_rule, dot_rule, ambiguous_rule) AS rate_date_reading
  FROM typed
),

checked AS (
  SELECT
    dated.*,
    CASE
      WHEN _error IS NOT NULL THEN 'malformed_record'
      WHEN currency_code IS NULL THEN 'missing_field:currency_code'
      WHEN LENGTH(currency_code) <> 3 OR LENGTH(base_currency) <> 3 THEN 'invalid_currency_code'
      WHEN rate_date_reading = 'missing' THEN 'missing_field:rate_date'
      WHEN rate_date_reading = 'ambiguous' THEN 'ambiguous_date'
      WHEN rate_day IS NULL THEN 'unparseable:rate_date'
      WHEN @out_of_range(rate_day, 'exchange_rates', 'rate_date', window_start, window_end)
        THEN 'out_of_range:rate_date'
      WHEN rate_text IS NULL THEN 'missing_field:exchange_rate'
      WHEN rate IS NULL THEN 'unparseable:exchange_rate'
      WHEN rate <= 0 THEN 'non_positive_rate'
      WHEN currency_code = base_currency AND rate <> 1 THEN 'base_rate_not_one'
    END AS invalid_reason
  FROM dated
),

ranked AS (
  SELECT
    checked.*,
    ROW_NUMBER() OVER (
      PARTITION BY _batch_id, invalid_reason IS NULL, base_currency, currency_code, rate_day
      ORDER BY _source_row DESC
    ) AS copy_from_last
  FROM checked
),

classified AS (
  SELECT
    ranked.*,
    COALESCE(invalid_reason, CASE WHEN copy_from_last > 1 THEN 'duplicate_rate' END) AS reason
  FROM ranked
)

SELECT
  base_currency,
  currency_code,
  rate,
  rate_day AS rate_date,
  rate_date_reading,
  reason,
  @reason_field(reason, 'exchange_rates') AS field,
  CASE
    WHEN reason IN ('missing_field:currency_code', 'invalid_currency_code') THEN raw_currency_code
    WHEN reason IN ('missing_field:rate_date', 'ambiguous_date', 'unparseable:rate_date', 'out_of_range:rate_date')
      THEN raw_rate_date
    WHEN reason = 'malformed_record' THEN _error
    WHEN reason IS NOT NULL THEN raw_exchange_rate
  END AS raw_value,
  raw_base_currency,
  raw_currency_code,
  raw_exchange_rate,
  raw_rate_date,
  _source,
  _batch_id,
  _source_file,
  _source_row,
  _ingested_at
FROM classified
