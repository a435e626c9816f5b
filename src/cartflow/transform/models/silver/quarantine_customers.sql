/*
  silver.quarantine_customers: every rejected customer record, as received, with why.
  Same key as silver.customers: together they hold each bronze row exactly once.
*/
MODEL (
  name silver.quarantine_customers,
  tags (publish),
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (_batch_id, _source_row)
  ),
  grain (_batch_id, _source_row),
  description 'Rejected customer records: reason, offending field and value, raw columns, lineage.',
  audits (
    not_null(columns := (_batch_id, _source_row, entity, reason))
  )
);

WITH staged AS (
  SELECT * FROM silver.stg_customers
)

SELECT
  CAST('customers' AS VARCHAR) AS entity,
  CAST(reason AS VARCHAR) AS reason,
  CAST(field AS VARCHAR) AS field,
  CAST(raw_value AS VARCHAR) AS raw_value,
  CAST(raw_customer_id AS VARCHAR) AS customer_id,
  CAST(raw_customer_name AS VARCHAR) AS customer_name,
  CAST(raw_email AS VARCHAR) AS email,
  CAST(raw_age AS VARCHAR) AS age,
  CAST(raw_gender AS VARCHAR) AS gender,
  CAST(raw_location AS VARCHAR) AS location,
  CAST(raw_country AS VARCHAR) AS country,
  CAST(raw_date_joined AS VARCHAR) AS date_joined,
  CAST(raw_updated_at AS VARCHAR) AS updated_at,
  CAST(_source AS VARCHAR) AS source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM staged
WHERE reason IS NOT NULL
