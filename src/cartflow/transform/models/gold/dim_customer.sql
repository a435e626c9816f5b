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

  The unknown member (@unknown_id, valid from @unknown_from, never closed; macros/
  constants.py) stands for order lines without a CustomerID. The versioning itself is
  shared with gold.dim_product: macros/scd2.py.

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
observations AS (
  SELECT
    customer_id,
    invoice_ts,
    _batch_id,
    country AS attributes,
    country,
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
    observed_at AS invoice_ts,
    _batch_id,
    COALESCE(country, '') || '|' || customer_name || '|' || COALESCE(email, '') || '|'
      || COALESCE(CAST(age AS VARCHAR), '') || '|' || gender || '|' || location || '|'
      || COALESCE(CAST(date_joined AS VARCHAR), '') AS attributes,
    country,
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
  SELECT DISTINCT observations.customer_id
  FROM observations
  INNER JOIN pending_batches ON observations._batch_id = pending_batches.batch_id
),

-- One sighting per customer and instant: the greatest attributes (for order lines,
-- MAX(country)), with the attribute columns of that row.
sightings AS (
  SELECT customer_id, invoice_ts, attributes, country, customer_name, email, age, gender, location,
    date_joined, source
  FROM (
    SELECT
      observations.*,
      ROW_NUMBER() OVER (
        PARTITION BY observations.customer_id, observations.invoice_ts
        ORDER BY observations.attributes DESC NULLS LAST, observations.source
      ) AS pick
    FROM observations
    INNER JOIN touched_customers ON observations.customer_id = touched_customers.customer_id
  ) AS candidates
  WHERE pick = 1
),

current_history AS (
  @scd2_versions(sightings, customer_id, invoice_ts, customer_sk,
    [country, customer_name, email, age, gender, location, date_joined])
),

superseded AS (
  @scd2_superseded(gold.dim_customer, touched_customers, current_history, customer_id, customer_sk,
    [country, customer_name, email, age, gender, location, date_joined])
),

unknown_member AS (
  SELECT
    @unknown_sk() AS customer_sk,
    @unknown_id() AS customer_id,
    1 AS version,
    @unknown_from() AS valid_from,
    CAST(NULL AS TIMESTAMP) AS valid_to,
    'cartflow' AS source,
    CAST(NULL AS VARCHAR) AS country,
    'Unknown' AS customer_name,
    CAST(NULL AS VARCHAR) AS email,
    CAST(NULL AS INT) AS age,
    'Unknown' AS gender,
    'Unknown' AS location,
    CAST(NULL AS DATE) AS date_joined
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
