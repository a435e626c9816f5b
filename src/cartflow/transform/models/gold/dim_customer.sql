/*
  gold.dim_customer: customers, SCD Type 2 on country, in business time.

  A version is a run of consecutive sightings of the same country, ordered by
  invoice_ts: valid_from is the first invoice_ts of the run, valid_to the next
  version's valid_from (NULL while current). Sightings with no country never open a
  version (a customer seen only without one gets a single NULL-country version).
  Two countries at the same invoice_ts collapse to MAX(country), so every
  (customer, valid_from) is one version and customer_sk = MD5(customer_id|valid_from)
  is a key.

  Why not SQLMesh's SCD_TYPE_2_BY_COLUMN: it stamps valid_from with the *processing*
  time of the run that noticed the change and compares one snapshot per run, so a
  country change inside one daily file would be collapsed and every version would
  start on the day the pipeline ran, not when the customer actually ordered from the
  new country. Facts need the version in force at invoice_ts, so history is derived
  from the sightings themselves.

  Incremental: only customers touched by the pending batches are recomputed, from
  their full history in silver.order_lines, and merged by customer_sk: a day N+1 file
  that moves a customer closes version 1 (valid_to set, is_current false) and opens
  version 2. If a late batch moves a version's start (an earlier sighting arrives after
  later ones), the old version row is kept with an empty validity range
  (valid_to = valid_from, is_current false): facts loaded before still resolve to it,
  and no as-of lookup can match it any more.

  The unknown member ('unknown', valid from 1900-01-01, never closed) stands for order
  lines without a CustomerID.

  Conformed across sources: customer records (silver.customers: the multi-source
  Customer API, customers.json drops, ...) are sightings too, at their observed_at,
  carrying every attribute (name, email, age, gender, location, join date); a version
  then tracks all of them, and `source` names the source of each version. An order line
  knows only the country, so for Online Retail the versions are exactly the country runs
  above. One customer id fed by both kinds of sighting gets a version at each switch.
*/
MODEL (
  name gold.dim_customer,
  tags (publish),
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key customer_sk
  ),
  grain customer_sk,
  description 'Customer dimension, SCD2 on country in business time (invoice_ts).',
  audits (
    not_null(columns := (customer_sk, customer_id, valid_from, is_current)),
    unique_values(columns := (customer_sk)),
    unique_combination_of_columns(columns := (customer_id, valid_from))
  )
);

WITH pending_batches AS (
  SELECT batch_id FROM bronze.pending_order_line_batches
  UNION ALL
  SELECT batch_id FROM bronze.pending_customer_batches
),

-- `attributes` is what a version tracks: the country of an order line, every attribute
-- of a customer record.
order_lines AS (
  SELECT
    customer_id,
    country,
    invoice_ts,
    _batch_id,
    country AS attributes,
    CAST(NULL AS VARCHAR) AS customer_name,
    CAST(NULL AS VARCHAR) AS email,
    CAST(NULL AS INT) AS age,
    CAST(NULL AS VARCHAR) AS gender,
    CAST(NULL AS VARCHAR) AS location,
    CAST(NULL AS DATE) AS date_joined,
    COALESCE(_source, 'online_retail') AS source
  FROM silver.order_lines
  WHERE customer_id IS NOT NULL
  UNION ALL
  SELECT
    customer_id,
    country,
    observed_at AS invoice_ts,
    _batch_id,
    COALESCE(country, '') || '|' || customer_name || '|' || COALESCE(email, '') || '|'
      || COALESCE(CAST(age AS VARCHAR), '') || '|' || gender || '|' || location || '|'
      || COALESCE(CAST(date_joined AS VARCHAR), '') AS attributes,
    customer_name,
    email,
    age,
    gender,
    location,
    date_joined,
    source
  FROM silver.customers
),

touched_customers AS (
  SELECT DISTINCT order_lines.customer_id
  FROM order_lines
  INNER JOIN pending_batches ON order_lines._batch_id = pending_batches.batch_id
),

-- One sighting per customer and instant: the greatest attributes (for order lines,
-- MAX(country)), with the attribute columns of that row.
sightings AS (
  SELECT customer_id, invoice_ts, country, attributes, customer_name, email, age, gender, location,
    date_joined, source
  FROM (
    SELECT
      order_lines.*,
      ROW_NUMBER() OVER (
        PARTITION BY order_lines.customer_id, order_lines.invoice_ts
        ORDER BY order_lines.attributes DESC NULLS LAST, order_lines.source
      ) AS pick
    FROM order_lines
    INNER JOIN touched_customers ON order_lines.customer_id = touched_customers.customer_id
  ) AS candidates
  WHERE pick = 1
),

first_sightings AS (
  SELECT customer_id, MIN(invoice_ts) AS first_ts, MIN(source) AS source
  FROM sightings
  GROUP BY customer_id
),

changes AS (
  SELECT
    sightings.*,
    CASE
      WHEN LAG(attributes) OVER (PARTITION BY customer_id ORDER BY invoice_ts) = attributes THEN 0
      ELSE 1
    END AS opens_version
  FROM sightings
  WHERE attributes IS NOT NULL
),

numbered AS (
  SELECT
    changes.*,
    SUM(opens_version) OVER (
      PARTITION BY customer_id ORDER BY invoice_ts
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS version
  FROM changes
),

country_versions AS (
  SELECT
    customer_id,
    version,
    MAX(country) AS country,
    MIN(invoice_ts) AS first_ts,
    MAX(customer_name) AS customer_name,
    MAX(email) AS email,
    MAX(age) AS age,
    MAX(gender) AS gender,
    MAX(location) AS location,
    MAX(date_joined) AS date_joined,
    MIN(source) AS source
  FROM numbered
  GROUP BY customer_id, version
),

countryless_customers AS (
  SELECT
    first_sightings.customer_id,
    1 AS version,
    CAST(NULL AS VARCHAR) AS country,
    first_sightings.first_ts,
    CAST(NULL AS VARCHAR) AS customer_name,
    CAST(NULL AS VARCHAR) AS email,
    CAST(NULL AS INT) AS age,
    CAST(NULL AS VARCHAR) AS gender,
    CAST(NULL AS VARCHAR) AS location,
    CAST(NULL AS DATE) AS date_joined,
    first_sightings.source
  FROM first_sightings
  LEFT JOIN country_versions
    ON first_sightings.customer_id = country_versions.customer_id
  WHERE country_versions.customer_id IS NULL
),

-- The first version starts at the first sighting, even one without a country.
versions AS (
  SELECT
    all_versions.customer_id,
    all_versions.version,
    all_versions.country,
    CASE WHEN all_versions.version = 1 THEN first_sightings.first_ts ELSE all_versions.first_ts END
      AS valid_from,
    all_versions.customer_name,
    all_versions.email,
    all_versions.age,
    all_versions.gender,
    all_versions.location,
    all_versions.date_joined,
    all_versions.source
  FROM (
    SELECT * FROM country_versions
    UNION ALL
    SELECT * FROM countryless_customers
  ) AS all_versions
  INNER JOIN first_sightings ON all_versions.customer_id = first_sightings.customer_id
),

current_history AS (
  SELECT
    MD5(customer_id || '|' || CAST(valid_from AS VARCHAR)) AS customer_sk,
    customer_id,
    country,
    version,
    valid_from,
    LEAD(valid_from) OVER (PARTITION BY customer_id ORDER BY valid_from) AS valid_to,
    customer_name,
    email,
    age,
    gender,
    location,
    date_joined,
    source
  FROM versions
),

previous_history AS (
  SELECT existing.*
  FROM gold.dim_customer AS existing
  INNER JOIN touched_customers
    ON existing.customer_id = touched_customers.customer_id
),

superseded AS (
  SELECT
    previous_history.customer_sk,
    previous_history.customer_id,
    previous_history.country,
    previous_history.version,
    previous_history.valid_from,
    previous_history.valid_from AS valid_to,
    previous_history.customer_name,
    previous_history.email,
    previous_history.age,
    previous_history.gender,
    previous_history.location,
    previous_history.date_joined,
    previous_history.source
  FROM previous_history
  LEFT JOIN current_history ON previous_history.customer_sk = current_history.customer_sk
  WHERE current_history.customer_sk IS NULL
),

unknown_member AS (
  SELECT
    MD5('unknown|1900-01-01 00:00:00') AS customer_sk,
    'unknown' AS customer_id,
    CAST(NULL AS VARCHAR) AS country,
    1 AS version,
    CAST('1900-01-01 00:00:00' AS TIMESTAMP) AS valid_from,
    CAST(NULL AS TIMESTAMP) AS valid_to,
    'Unknown' AS customer_name,
    CAST(NULL AS VARCHAR) AS email,
    CAST(NULL AS INT) AS age,
    'Unknown' AS gender,
    'Unknown' AS location,
    CAST(NULL AS DATE) AS date_joined,
    'cartflow' AS source
),

dimension AS (
  SELECT * FROM current_history
  UNION ALL
  SELECT * FROM superseded
  UNION ALL
  SELECT * FROM unknown_member
)

SELECT
  CAST(customer_sk AS VARCHAR) AS customer_sk,
  CAST(customer_id AS VARCHAR) AS customer_id,
  CAST(country AS VARCHAR) AS country,
  CAST(version AS INT) AS version,
  CAST(valid_from AS TIMESTAMP) AS valid_from,
  CAST(valid_to AS TIMESTAMP) AS valid_to,
  CAST(valid_to IS NULL AS BOOLEAN) AS is_current,
  CAST(customer_name AS VARCHAR) AS customer_name,
  CAST(email AS VARCHAR) AS email,
  CAST(age AS INT) AS age,
  CAST(gender AS VARCHAR) AS gender,
  CAST(location AS VARCHAR) AS location,
  CAST(date_joined AS DATE) AS date_joined,
  CAST(source AS VARCHAR) AS source
FROM dimension
