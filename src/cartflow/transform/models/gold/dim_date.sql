/*
  gold.dim_date: one row per calendar day, from 1 January of the first year with order
  lines to 31 December of the last.

  Built from a digits cross join rather than GENERATE_SERIES/SEQUENCE, which have no
  common spelling in DuckDB and Spark. Weekday arithmetic counts days from Monday
  1900-01-01 instead of DAYOFWEEK, whose numbering differs between engines.

  Meteorological seasons: DJF winter, MAM spring, JJA summer, SON autumn. December
  belongs to the *next* year's winter: 2010-12-01 is in winter 2011 (season_year 2011),
  with January and February 2011.
*/
MODEL (
  name gold.dim_date,
  tags (publish),
  kind FULL,
  grain date_day,
  description 'Date spine covering the order lines: calendar, ISO week and meteorological season.',
  audits (
    not_null(columns := (date_day, year, month, iso_week, season, season_year)),
    unique_values(columns := (date_day))
  )
);

WITH order_lines AS (
  SELECT invoice_date FROM silver.order_lines
  UNION ALL
  SELECT transaction_date AS invoice_date FROM silver.transactions
  UNION ALL
  SELECT transaction_date AS invoice_date FROM silver.sales
),

bounds AS (
  SELECT
    MAKE_DATE(YEAR(MIN(invoice_date)), 1, 1) AS first_day,
    MAKE_DATE(YEAR(MAX(invoice_date)), 12, 31) AS last_day
  FROM order_lines
),

digits AS (
  SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
  UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9
),

day_numbers AS (
  SELECT ones.d + 10 * tens.d + 100 * hundreds.d + 1000 * thousands.d + 10000 * ten_thousands.d AS n
  FROM digits AS ones
  CROSS JOIN digits AS tens
  CROSS JOIN digits AS hundreds
  CROSS JOIN digits AS thousands
  CROSS JOIN digits AS ten_thousands
),

spine AS (
  SELECT DATE_ADD(bounds.first_day, day_numbers.n) AS date_day
  FROM bounds
  CROSS JOIN day_numbers
  WHERE day_numbers.n <= DATE_DIFF('day', bounds.first_day, bounds.last_day)
),

calendar AS (
  SELECT
    date_day,
    YEAR(date_day) AS year,
    QUARTER(date_day) AS quarter,
    MONTH(date_day) AS month,
    DAY(date_day) AS day_of_month,
    CAST(DATE_DIFF('day', CAST('1900-01-01' AS DATE), date_day) % 7 + 1 AS INT) AS iso_day_of_week
  FROM spine
)

SELECT
  CAST(date_day AS DATE) AS date_day,
  CAST(year AS INT) AS year,
  CAST(quarter AS INT) AS quarter,
  CAST(month AS INT) AS month,
  CAST(
    CASE month
      WHEN 1 THEN 'January' WHEN 2 THEN 'February' WHEN 3 THEN 'March'
      WHEN 4 THEN 'April' WHEN 5 THEN 'May' WHEN 6 THEN 'June'
      WHEN 7 THEN 'July' WHEN 8 THEN 'August' WHEN 9 THEN 'September'
      WHEN 10 THEN 'October' WHEN 11 THEN 'November' ELSE 'December'
    END AS VARCHAR
  ) AS month_name,
  CAST(day_of_month AS INT) AS day_of_month,
  CAST(iso_day_of_week AS INT) AS iso_day_of_week,
  CAST(
    CASE iso_day_of_week
      WHEN 1 THEN 'Monday' WHEN 2 THEN 'Tuesday' WHEN 3 THEN 'Wednesday'
      WHEN 4 THEN 'Thursday' WHEN 5 THEN 'Friday' WHEN 6 THEN 'Saturday' ELSE 'Sunday'
    END AS VARCHAR
  ) AS day_name,
  CAST(iso_day_of_week >= 6 AS BOOLEAN) AS is_weekend,
  CAST(WEEKOFYEAR(date_day) AS INT) AS iso_week,
  -- The ISO year is the year of the week's Thursday.
  CAST(YEAR(DATE_ADD(date_day, 4 - iso_day_of_week)) AS INT) AS iso_year,
  CAST(DATE_ADD(date_day, 1 - iso_day_of_week) AS DATE) AS week_start,
  CAST(DATE_TRUNC('month', date_day) AS DATE) AS month_start,
  CAST(DATE_TRUNC('quarter', date_day) AS DATE) AS quarter_start,
  CAST(
    CASE
      WHEN month IN (12, 1, 2) THEN 'winter'
      WHEN month IN (3, 4, 5) THEN 'spring'
      WHEN month IN (6, 7, 8) THEN 'summer'
      ELSE 'autumn'
    END AS VARCHAR
  ) AS season,
  CAST(CASE WHEN month = 12 THEN year + 1 ELSE year END AS INT) AS season_year
FROM calendar
