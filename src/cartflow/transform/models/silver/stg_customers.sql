/*
  silver.stg_customers: the pending batches' customer records, trimmed, typed, normalised
  and classified. `reason` NULL = a good row; silver.customers and
  silver.quarantine_customers split on it, so bronze = silver + quarantine per batch.

  A customer is only rejected when it has no identity: a record that is not an object
  (`malformed_record`), no customer id (`missing_field:customer_id`), or an older copy of
  a customer sent again later in the same batch (`duplicate_key`: the last copy wins).
  Bad attributes never reject a customer, nor are they invented: a valid age is kept as
  it is (1-120), a missing or impossible one is NULL with age_status 'unknown'/'invalid';
  gender becomes Male/Female/Non-binary/Other/Unknown; a blank or "Unknown" location is
  the explicit 'Unknown'; `issues` lists every attribute that was not usable.
  Rules and their order: docs/multi-source-rules.md.
*/
MODEL (
  name silver.stg_customers,
  kind VIEW,
  description 'Pending customer records, typed and classified: reason NULL = good row.'
);

WITH pending_rows AS (
  SELECT bronze_customers.*
  FROM bronze.customers AS bronze_customers
  INNER JOIN bronze.pending_customer_batches AS pending
    ON bronze_customers._batch_id = pending.batch_id
),

with_rules AS (
  SELECT
    pending_rows.*,
    COALESCE(settings.slash_dates, 'infer') AS slash_rule,
    COALESCE(settings.dash_dates, 'infer') AS dash_rule,
    COALESCE(settings.dot_dates, 'infer') AS dot_rule,
    COALESCE(settings.ambiguous_dates, 'quarantine') AS ambiguous_rule
  FROM pending_rows
  LEFT JOIN bronze.source_settings AS settings
    ON pending_rows._source = settings.source
),

trimmed AS (
  SELECT
    NULLIF(TRIM(customer_id), '') AS customer_id,
    NULLIF(TRIM(customer_name), '') AS name_text,
    LOWER(NULLIF(TRIM(email), '')) AS email,
    NULLIF(TRIM(age), '') AS age_text,
    UPPER(NULLIF(TRIM(gender), '')) AS gender_text,
    NULLIF(TRIM(location), '') AS location_text,
    NULLIF(TRIM(country), '') AS country,
    NULLIF(TRIM(date_joined), '') AS date_joined_text,
    NULLIF(TRIM(updated_at), '') AS updated_at_text,
    customer_id AS raw_customer_id,
    customer_name AS raw_customer_name,
    email AS raw_email,
    age AS raw_age,
    gender AS raw_gender,
    location AS raw_location,
    country AS raw_country,
    date_joined AS raw_date_joined,
    updated_at AS raw_updated_at,
    slash_rule,
    dash_rule,
    dot_rule,
    ambiguous_rule,
    _error,
    _source,
    _batch_id,
    _source_file,
    _source_row,
    _ingested_at
  FROM with_rules
),

typed AS (
  SELECT
    trimmed.*,
    TRY_CAST(age_text AS DECIMAL(38, 6)) AS age_number,
    @parse_day(date_joined_text, slash_rule, dash_rule, dot_rule, ambiguous_rule) AS date_joined,
    @day_reading(date_joined_text, slash_rule, dash_rule, dot_rule, ambiguous_rule) AS date_joined_reading,
    TRY_CAST(updated_at_text AS TIMESTAMP) AS updated_at
  FROM trimmed
),

normalised AS (
  SELECT
    typed.*,
    CASE
      WHEN age_number = FLOOR(age_number) AND age_number BETWEEN 1 AND 120 THEN CAST(age_number AS INT)
    END AS age,
    CASE
      WHEN gender_text IN ('M', 'MALE', 'MAN') THEN 'Male'
      WHEN gender_text IN ('F', 'FEMALE', 'WOMAN') THEN 'Female'
      WHEN gender_text IN ('NON-BINARY', 'NONBINARY', 'NON BINARY', 'NB', 'ENBY') THEN 'Non-binary'
      WHEN gender_text IN ('OTHER', 'X', 'DIVERSE') THEN 'Other'
      ELSE 'Unknown'
    END AS gender,
    CASE
      WHEN location_text IS NULL THEN 'Unknown'
      WHEN UPPER(location_text) IN ('UNKNOWN', 'N/A', 'NA', 'NONE', 'NULL', '-', '?') THEN 'Unknown'
      ELSE location_text
    END AS location,
    COALESCE(name_text, 'Unknown') AS customer_name,
    COALESCE(updated_at, _ingested_at) AS observed_at,
    ROW_NUMBER() OVER (PARTITION BY _batch_id, customer_id ORDER BY _source_row DESC) AS copy_from_last
  FROM typed
),

classified AS (
  SELECT
    normalised.*,
    CASE
      WHEN _error IS NOT NULL THEN 'malformed_record'
      WHEN customer_id IS NULL THEN 'missing_field:customer_id'
      WHEN copy_from_last > 1 THEN 'duplicate_key'
    END AS reason,
    CASE WHEN age_text IS NULL THEN 'unknown' WHEN age IS NULL THEN 'invalid' ELSE 'valid' END AS age_status,
    CASE
      WHEN gender_text IS NULL OR gender_text IN ('UNKNOWN', 'N/A', 'NA', 'NONE', 'NULL', 'PREFER NOT TO SAY')
        THEN 'unknown'
      WHEN gender = 'Unknown' THEN 'unrecognised'
      ELSE 'valid'
    END AS gender_status
  FROM normalised
)

SELECT
  customer_id,
  customer_name,
  email,
  age,
  age_status,
  gender,
  gender_status,
  location,
  country,
  date_joined,
  date_joined_reading,
  observed_at,
  -- a comma-led list of what was unusable, minus the first comma (CONCAT_WS is not NULL-safe
  -- everywhere: sqlglot writes it as NULL when any argument is NULL)
  NULLIF(SUBSTRING(
    CASE WHEN name_text IS NULL THEN ',name:unknown' ELSE '' END
    || CASE WHEN age_status <> 'valid' THEN ',age:' || age_status ELSE '' END
    || CASE WHEN gender_status <> 'valid' THEN ',gender:' || gender_status ELSE '' END
    || CASE WHEN location = 'Unknown' THEN ',location:unknown' ELSE '' END
    || CASE WHEN date_joined IS NULL THEN ',date_joined:' || date_joined_reading ELSE '' END,
    2
  ), '') AS issues,
  reason,
  CASE
    WHEN reason IN ('missing_field:customer_id', 'duplicate_key') THEN 'customer_id'
  END AS field,
  CASE
    WHEN reason IN ('missing_field:customer_id', 'duplicate_key') THEN raw_customer_id
    WHEN reason = 'malformed_record' THEN _error
  END AS raw_value,
  raw_customer_id,
  raw_customer_name,
  raw_email,
  raw_age,
  raw_gender,
  raw_location,
  raw_country,
  raw_date_joined,
  raw_updated_at,
  _source,
  _batch_id,
  _source_file,
  _source_row,
  _ingested_at
FROM classified
