/*
  silver.fx_to_base: for each day with published rates, how many units of the project's
  base currency ([currency] base, @currency) one unit of each currency is worth.

  From silver.exchange_rates, one rate per base, currency and day across all batches
  (the latest received wins: a corrected feed replaces an earlier one). A factor comes
  from a direct quote against the base (either way round) or, failing that, a cross
  rate through a common quoting base on the same day (1 C = r(B->P) / r(B->C) P).
  Conversion then takes the latest factor on or before the order's day, within
  [currency] max_rate_age_days: the as-of join that fills weekends and holidays.
  The factor is computed in floating point and stored as DECIMAL(18, 12); amounts
  multiply it in DECIMAL. A factor DECIMAL(18, 12) cannot hold (a rate below 1e-6 against
  the base) is left out: amounts in that currency are then `missing_exchange_rate`, never
  a failed run. silver.fx_daily spreads the factors over the days they may serve.
*/
MODEL (
  name silver.fx_to_base,
  kind FULL,
  grain (rate_date, currency),
  description 'Conversion factor to the base currency per day and currency (rate days only).',
  audits (
    not_null(columns := (rate_date, currency, factor)),
    unique_combination_of_columns(columns := (rate_date, currency))
  )
);

WITH observations AS (
  SELECT
    base_currency,
    currency_code,
    rate,
    rate_date,
    ROW_NUMBER() OVER (
      PARTITION BY base_currency, currency_code, rate_date
      ORDER BY _ingested_at DESC, _batch_id DESC, _source_row DESC
    ) AS newest
  FROM silver.exchange_rates
),

rates AS (
  SELECT base_currency, currency_code, CAST(rate AS DOUBLE) AS rate, rate_date
  FROM observations
  WHERE newest = 1
),

candidates AS (
  SELECT rate_date, currency_code AS currency, 1 / rate AS factor, 1 AS preference
  FROM rates
  WHERE base_currency = @currency AND currency_code <> @currency
  UNION ALL
  SELECT rate_date, base_currency AS currency, rate AS factor, 1 AS preference
  FROM rates
  WHERE currency_code = @currency AND base_currency <> @currency
  UNION ALL
  SELECT quoted.rate_date, quoted.currency_code AS currency, to_base.rate / quoted.rate AS factor, 2 AS preference
  FROM rates AS quoted
  INNER JOIN rates AS to_base
    ON quoted.base_currency = to_base.base_currency
    AND quoted.rate_date = to_base.rate_date
    AND to_base.currency_code = @currency
  WHERE quoted.base_currency <> @currency AND quoted.currency_code <> @currency
),

chosen AS (
  SELECT
    rate_date,
    currency,
    factor,
    ROW_NUMBER() OVER (PARTITION BY rate_date, currency ORDER BY preference, factor) AS choice
  FROM candidates
)

SELECT
  CAST(rate_date AS DATE) AS rate_date,
  CAST(currency AS VARCHAR) AS currency,
  CAST(factor AS DECIMAL(18, 12)) AS factor
FROM chosen
WHERE choice = 1
  AND TRY_CAST(factor AS DECIMAL(18, 12)) IS NOT NULL
