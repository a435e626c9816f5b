/*
  silver.fx_daily: the conversion factor to the base currency for every day a rate
  covers, so sales and transactions convert with an equality join.

  A day takes the latest factor of silver.fx_to_base on or before it, at most
  @max_rate_age_days old: rates exist on business days only, shops sell on Sundays.
  Each rate day is spread over the days it may serve (0 to @max_rate_age_days later) and
  the newest one wins per day and currency. A day no rate covers has no row here, which
  is what silver's `missing_exchange_rate` means.
*/
MODEL (
  name silver.fx_daily,
  kind FULL,
  grain (day, currency),
  description 'Conversion factor to the base currency per calendar day covered by a recent enough rate.',
  audits (
    not_null(columns := (day, currency, rate_date, factor)),
    unique_combination_of_columns(columns := (day, currency))
  )
);

WITH factors AS (
  SELECT rate_date, currency, factor FROM silver.fx_to_base
),

digits AS (
  SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
  UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9
),

ages AS (
  SELECT ones.d + 10 * tens.d + 100 * hundreds.d + 1000 * thousands.d AS age
  FROM digits AS ones
  CROSS JOIN digits AS tens
  CROSS JOIN digits AS hundreds
  CROSS JOIN digits AS thousands
  WHERE ones.d + 10 * tens.d + 100 * hundreds.d + 1000 * thousands.d <= @max_rate_age_days
),

covered AS (
  SELECT
    factors.rate_date + CAST(ages.age AS INT) AS day,  -- DATE + INT: a day on both engines
    factors.currency,
    factors.rate_date,
    factors.factor
  FROM factors
  CROSS JOIN ages
),

newest AS (
  SELECT
    covered.*,
    ROW_NUMBER() OVER (PARTITION BY day, currency ORDER BY rate_date DESC) AS recency
  FROM covered
)

SELECT
  CAST(day AS DATE) AS day,
  CAST(currency AS VARCHAR) AS currency,
  CAST(rate_date AS DATE) AS rate_date,
  CAST(factor AS DECIMAL(18, 12)) AS factor
FROM newest
WHERE recency = 1
