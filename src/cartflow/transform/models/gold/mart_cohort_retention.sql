/*
  gold.mart_cohort_retention: monthly acquisition cohorts and how many come back.

  A known customer's cohort is the month of their first sale; they are active in a month
  when they have a sale line in it. months_since_first = 0 is the cohort month itself
  (retention 1.0000). retention = active_customers / cohort_size (a share, DECIMAL(9,4)).
*/
MODEL (
  name gold.mart_cohort_retention,
  tags (publish),
  kind FULL,
  grain (cohort_month, months_since_first),
  description 'Monthly cohorts (first purchase month): active customers and retention share per month since.',
  audits (
    not_null(columns := (cohort_month, months_since_first, cohort_size, active_customers, retention)),
    unique_combination_of_columns(columns := (cohort_month, months_since_first))
  )
);

WITH sale_lines AS (
  SELECT customer_id, CAST(DATE_TRUNC('month', invoice_date) AS DATE) AS activity_month
  FROM gold.fct_order_line
  WHERE is_sale AND customer_id <> @unknown_id()
),

customer_months AS (
  SELECT DISTINCT customer_id, activity_month FROM sale_lines
),

cohorts AS (
  SELECT customer_id, MIN(activity_month) AS cohort_month
  FROM customer_months
  GROUP BY customer_id
),

cohort_sizes AS (
  SELECT cohort_month, COUNT(*) AS cohort_size
  FROM cohorts
  GROUP BY cohort_month
),

activity AS (
  SELECT
    cohorts.cohort_month,
    (YEAR(customer_months.activity_month) - YEAR(cohorts.cohort_month)) * 12
      + MONTH(customer_months.activity_month) - MONTH(cohorts.cohort_month) AS months_since_first,
    COUNT(*) AS active_customers
  FROM customer_months
  INNER JOIN cohorts ON customer_months.customer_id = cohorts.customer_id
  GROUP BY 1, 2
)

SELECT
  CAST(activity.cohort_month AS DATE) AS cohort_month,
  CAST(activity.months_since_first AS INT) AS months_since_first,
  CAST(cohort_sizes.cohort_size AS BIGINT) AS cohort_size,
  CAST(activity.active_customers AS BIGINT) AS active_customers,
  CAST(
    CAST(activity.active_customers AS DECIMAL(18, 4)) / cohort_sizes.cohort_size AS DECIMAL(9, 4)
  ) AS retention
FROM activity
INNER JOIN cohort_sizes ON activity.cohort_month = cohort_sizes.cohort_month
