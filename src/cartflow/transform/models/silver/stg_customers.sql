/*
  silver.stg_customers: the pending batches' customer records, trimmed, typed, normalised
  and classified. `reason` NULL = a good row; silver.customers and
  silver.quarantine_customers split on it, so bronze = silver + quarantine per batch.

  A customer is only rejected when it has no usable identity: a record that is not an
  object (`malformed_record`), no customer id (`missing_field:customer_id`), an id longer
  than the contract allows (`too_long:customer_id`), an observation time outside the
  run's date window (`out_of_range:updated_at`: it would date an SCD2 version), or an
  older copy of a customer sent again later in the same batch (`duplicate_key`: the last
  copy wins). Bad attributes never reject a customer, nor are they invented: a valid age
  is kept as it is (the contract's 1-120), a missing or impossible one is NULL with
  age_status 'unknown'/'invalid'; a name, email, location or country longer than the
  contract allows, and a join date outside the window, become NULL, flagged in `issues`;
  gender becomes Male/Female/Non-binary/Other/Unknown; a blank or "Unknown" location is
  the explicit 'Unknown'; `issues` lists every attribute that was not usable.
  Rules and their order: docs/multi-source-rules.md.
*/
MODEL (
  name silver.stg_customers,
  -- FULL, not VIEW: rebuilt from the pending batches each run, and on Spark the Hive
  -- metastore keeps a view's text in at most 32,700 characters, which the date and
  -- contract checks of this model exceed.
  kind FULL,
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
    COALESCE(settings.ambiguous_dates, 'quarantine') AS ambiguous_rule,
    settings.date_format,
    settings.timezone,
    @window_start(settings.window_start) AS window_start,
    @window_end(settings.window_end) AS window_end
  FROM pending_rows
  LEFT JOIN bronze.source_settings AS settings
    ON pending_rows._source = settings.source
),

texts AS (
  SELECT
    with_rules.*,
    NULLIF(TRIM(customer_name), '') AS name_text,
    NULLIF(TRIM(email), '') AS email_text,
    NULLIF(TRIM(location), '') AS location_text,
    NULLIF(TRIM(country), '') AS country_text,
    customer_id AS raw_customer_id
  FROM with_rules
),

limits AS (
  SELECT
    texts.*,
    @too_long(name_text, 'customers', 'customer_name') AS name_too_long,
    @too_long(email_text, 'customers', 'email') AS email_too_long,
    @too_long(location_text, 'customers', 'location') AS location_too_long,
    @too_long(country_text, 'customers', 'country') AS country_too_long
  FROM texts
),

trimmed AS (
  SELECT
    NULLIF(TRIM(customer_id), '') AS customer_id,
    CASE WHEN NOT name_too_long THEN name_text END AS name_text,
    CASE WHEN NOT email_too_long THEN LOWER(email_text) END AS email,
    NULLIF(TRIM(age), '') AS age_text,
    UPPER(NULLIF(TRIM(gender), '')) AS gender_text,
    CASE WHEN NOT location_too_long THEN location_text END AS location_text,
    CASE WHEN NOT country_too_long THEN country_text END AS country,
    name_too_long,
    email_too_long,
    location_too_long,
    country_too_long,
    NULLIF(TRIM(date_joined), '') AS date_joined_text,
    NULLIF(TRIM(updated_at), '') AS updated_at_text,
    raw_customer_id,
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
    date_format,
    timezone,
    window_start,
    window_end,
    _error,
    _source,
    _batch_id,
    _source_file,
    _source_row,
    _ingested_at
  FROM limits
),

typed AS (
  SELECT
    trimmed.*,
    TRY_CAST(age_text AS DECIMAL(38, 6)) AS age_number,
    @parse_timestamp(date_joined_text, date_format, timezone, @date_formats) AS date_joined_ts,
    @parse_timestamp(updated_at_text, date_format, timezone, @date_formats) AS updated_at
  FROM trimmed
),

-- The source's format or ISO 8601 (zone converted) first, else the day/month rules.
dated AS (
  SELECT
    typed.*,
    @parse_date(date_joined_text, date_joined_ts, slash_rule, dash_rule, dot_rule, ambiguous_rule)
      AS date_joined_parsed,
    @date_reading(date_joined_text, date_joined_ts, slash_rule, dash_rule, dot_rule, ambiguous_rule)
      AS date_joined_parsed_reading
  FROM typed
),

-- The contract's limits on attributes: an unusable one is NULL, never a rejection.
bounded AS (
  SELECT
    dated.*,
    CASE
      WHEN NOT @out_of_range(date_joined_parsed, 'customers', 'date_joined', window_start, window_end)
        THEN date_joined_parsed
    END AS date_joined,
    CASE
      WHEN @out_of_range(date_joined_parsed, 'customers', 'date_joined', window_start, window_end)
        THEN 'out_of_range'
      ELSE date_joined_parsed_reading
    END AS date_joined_reading
  FROM dated
),

normalised AS (
  SELECT
    bounded.*,
    CASE
      WHEN age_number = FLOOR(age_number) AND @in_range(age_number, 'customers', 'age') THEN CAST(age_number AS INT)
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
  FROM bounded
),

classified AS (
  SELECT
    normalised.*,
    CASE
      WHEN _error IS NOT NULL THEN 'malformed_record'
      WHEN customer_id IS NULL THEN 'missing_field:customer_id'
      WHEN @too_long(customer_id, 'customers', 'customer_id') THEN 'too_long:customer_id'
      WHEN @out_of_range(updated_at, 'customers', 'updated_at', window_start, window_end)
        THEN 'out_of_range:updated_at'
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
    CASE WHEN name_too_long THEN ',name:too_long' WHEN name_text IS NULL THEN ',name:unknown' ELSE '' END
    || CASE WHEN email_too_long THEN ',email:too_long' ELSE '' END
    || CASE WHEN age_status <> 'valid' THEN ',age:' || age_status ELSE '' END
    || CASE WHEN gender_status <> 'valid' THEN ',gender:' || gender_status ELSE '' END
    || CASE WHEN location_too_long THEN ',location:too_long' WHEN location = 'Unknown' THEN ',location:unknown' ELSE '' END
    || CASE WHEN country_too_long THEN ',country:too_long' ELSE '' END
    || CASE WHEN date_joined IS NULL THEN ',date_joined:' || date_joined_reading ELSE '' END,
    2
  ), '') AS issues,
  reason,
  @reason_field(reason, 'customers') AS field,
  CASE
    WHEN reason IN ('missing_field:customer_id', 'too_long:customer_id', 'duplicate_key') THEN raw_customer_id
    WHEN reason = 'out_of_range:updated_at' THEN raw_updated_at
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
