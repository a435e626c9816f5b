/*
  silver.customers: good customer records, one row per bronze row (every observation of
  a customer, from every source and batch: the history gold.dim_customer versions).

  Incremental by the bronze row's identity, so a re-run batch overwrites its own rows
  and a replay changes nothing.
*/
MODEL (
  name silver.customers,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (_batch_id, _source_row)
  ),
  grain (_batch_id, _source_row),
  description 'Customer observations: typed, normalised, explicit unknowns, with source and lineage.',
  audits (
    not_null(columns := (_batch_id, _source_row, customer_id, customer_name, gender, location, age_status, observed_at)),
    accepted_values(column := gender, is_in := ('Male', 'Female', 'Non-binary', 'Other', 'Unknown')),
    accepted_values(column := age_status, is_in := ('valid', 'unknown', 'invalid'))
  )
);

WITH staged AS (
  SELECT * FROM silver.stg_customers
)

SELECT
  CAST(customer_id AS VARCHAR) AS customer_id,
  CAST(customer_name AS VARCHAR) AS customer_name,
  CAST(email AS VARCHAR) AS email,
  CAST(age AS INT) AS age,
  CAST(age_status AS VARCHAR) AS age_status,
  CAST(gender AS VARCHAR) AS gender,
  CAST(location AS VARCHAR) AS location,
  CAST(country AS VARCHAR) AS country,
  CAST(date_joined AS DATE) AS date_joined,
  CAST(observed_at AS TIMESTAMP) AS observed_at,
  CAST(issues AS VARCHAR) AS issues,
  CAST(_source AS VARCHAR) AS source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM staged
WHERE reason IS NULL
