/*
  gold.mart_customer_rfm: recency, frequency, monetary value and a named segment per
  known customer with at least one sale.

  recency_days = days from the customer's last sale to the last invoice date in the
  data; frequency = distinct sale invoices; monetary = net revenue (sales minus
  returns). Each is scored 1-5 by quintile (5 = best: most recent, most frequent,
  highest value); ties are split by customer_id so scores are deterministic.
  Segments (first match wins; documented in docs/definitions.md):
    Champions          R >= 4 and F >= 4 and M >= 4
    Loyal              R >= 3 and F >= 4
    New                R >= 4 and F = 1
    Potential loyalist R >= 4
    At risk            R <= 2 and F >= 3
    Need attention     R = 3
    Lost               R = 1 and F = 1
    Hibernating        everything else (R <= 2, F <= 2)
*/
MODEL (
  name gold.mart_customer_rfm,
  tags (publish),
  kind FULL,
  grain customer_id,
  description 'RFM scores (1-5 quintiles) and segment per known customer.',
  audits (
    not_null(columns := (customer_id, recency_days, frequency, monetary, r_score, f_score, m_score, segment)),
    unique_values(columns := (customer_id)),
    accepted_range(column := r_score, min_v := 1, max_v := 5)
  )
);

WITH order_lines AS (
  SELECT customer_id, invoice_no, invoice_date, is_sale, net_amount
  FROM gold.fct_order_line
),

reference_date AS (
  SELECT MAX(invoice_date) AS last_invoice_date FROM order_lines
),

customer_totals AS (
  SELECT
    customer_id,
    MAX(CASE WHEN is_sale THEN invoice_date END) AS last_purchase_date,
    COUNT(DISTINCT CASE WHEN is_sale THEN invoice_no END) AS frequency,
    SUM(CAST(net_amount AS DECIMAL(38, 3))) AS monetary
  FROM order_lines
  WHERE customer_id <> @unknown_id()
  GROUP BY customer_id
),

measured AS (
  SELECT
    customer_totals.*,
    DATE_DIFF('day', customer_totals.last_purchase_date, reference_date.last_invoice_date) AS recency_days
  FROM customer_totals
  CROSS JOIN reference_date
  WHERE customer_totals.frequency > 0
),

scored AS (
  SELECT
    measured.*,
    NTILE(5) OVER (ORDER BY recency_days DESC, customer_id) AS r_score,
    NTILE(5) OVER (ORDER BY frequency, customer_id) AS f_score,
    NTILE(5) OVER (ORDER BY monetary, customer_id) AS m_score
  FROM measured
),

segmented AS (
  SELECT
    scored.*,
    CASE
      WHEN r_score >= 4 AND f_score >= 4 AND m_score >= 4 THEN 'Champions'
      WHEN r_score >= 3 AND f_score >= 4 THEN 'Loyal'
      WHEN r_score >= 4 AND f_score = 1 THEN 'New'
      WHEN r_score >= 4 THEN 'Potential loyalist'
      WHEN r_score <= 2 AND f_score >= 3 THEN 'At risk'
      WHEN r_score = 3 THEN 'Need attention'
      WHEN r_score = 1 AND f_score = 1 THEN 'Lost'
      ELSE 'Hibernating'
    END AS segment
  FROM scored
)

SELECT
  CAST(customer_id AS VARCHAR) AS customer_id,
  CAST(last_purchase_date AS DATE) AS last_purchase_date,
  CAST(recency_days AS INT) AS recency_days,
  CAST(frequency AS BIGINT) AS frequency,
  CAST(monetary AS DECIMAL(38, 3)) AS monetary,
  CAST(r_score AS INT) AS r_score,
  CAST(f_score AS INT) AS f_score,
  CAST(m_score AS INT) AS m_score,
  CAST(CAST(r_score AS VARCHAR) || CAST(f_score AS VARCHAR) || CAST(m_score AS VARCHAR) AS VARCHAR) AS rfm_score,
  CAST(segment AS VARCHAR) AS segment
FROM segmented
