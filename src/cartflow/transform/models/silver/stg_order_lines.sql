/*
  silver.stg_order_lines: the pending batches' bronze rows, trimmed, typed and classified.

  Every row comes out exactly once, with `reason` NULL when it is good and a reason code
  when it must go to quarantine; silver.order_lines and silver.quarantine_order_lines
  split on that column, so bronze = silver + quarantine holds by construction.
  The rules, their order and their reasons are in docs/data-rules.md; the value contract
  (lengths, ranges, the date window) comes from cartflow.entities through the macros in
  macros/contract.py, the source's date format and time zone from bronze.source_settings.
*/
MODEL (
  name silver.stg_order_lines,
  kind VIEW,
  description 'Pending order lines, typed and classified: reason NULL = good row.'
);

WITH bronze_order_lines AS (
  SELECT * FROM bronze.order_lines
),

pending_batches AS (
  SELECT batch_id FROM bronze.pending_order_line_batches
),

pending_lines AS (
  SELECT bronze_order_lines.*
  FROM bronze_order_lines
  INNER JOIN pending_batches
    ON bronze_order_lines._batch_id = pending_batches.batch_id
),

-- The source's rules: its timestamp format (else the project's order_date_format), the
-- shop's time zone, and this run's date window (the contract's bounds, fixed per run).
with_rules AS (
  SELECT
    pending_lines.*,
    COALESCE(settings.date_format, @order_date_format) AS date_format,
    settings.timezone,
    @window_start(settings.window_start) AS window_start,
    @window_end(settings.window_end) AS window_end
  FROM pending_lines
  LEFT JOIN bronze.source_settings AS settings
    ON pending_lines._source = settings.source
),

-- Blank text is no value: '' and '   ' become NULL. Stock codes are case-insensitive
-- in the source ('85123a' is '85123A'), so they are upper-cased.
trimmed AS (
  SELECT
    NULLIF(TRIM(invoice_no), '') AS invoice_no,
    UPPER(NULLIF(TRIM(stock_code), '')) AS stock_code,
    NULLIF(TRIM(description), '') AS description,
    NULLIF(TRIM(quantity), '') AS quantity_text,
    NULLIF(TRIM(invoice_date), '') AS invoice_date_text,
    NULLIF(TRIM(unit_price), '') AS unit_price_text,
    NULLIF(TRIM(customer_id), '') AS customer_id_text,
    NULLIF(TRIM(country), '') AS country,
    invoice_no AS raw_invoice_no,
    stock_code AS raw_stock_code,
    description AS raw_description,
    quantity AS raw_quantity,
    invoice_date AS raw_invoice_date,
    unit_price AS raw_unit_price,
    customer_id AS raw_customer_id,
    country AS raw_country,
    NULLIF(TRIM(event_id), '') AS event_id,
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
  FROM with_rules
),

-- TRY_CAST / parse_timestamp give NULL instead of failing the run; a NULL typed value
-- next to a non-NULL text is what `unparseable:<field>` means below.
typed AS (
  SELECT
    trimmed.*,
    -- Via DECIMAL, because TRY_CAST('1.5' AS INT) rounds to 2 in DuckDB: a fractional
    -- quantity must be unparseable, not silently rounded. DECIMAL(18, 3), not (38, x):
    -- DuckDB parses text into 128-bit decimals ~100x slower.
    TRY_CAST(@number_text(quantity_text, 'order_lines', 'quantity') AS DECIMAL(18, 3)) AS quantity_number,
    TRY_CAST(@number_text(unit_price_text, 'order_lines', 'unit_price') AS DECIMAL(18, 3)) AS unit_price,
    -- The source's format, else ISO 8601 (a zone offset converted to the shop's zone).
    @parse_timestamp(invoice_date_text, date_format, timezone, @date_formats, @order_date_format) AS invoice_ts,
    -- CustomerID is an integer; re-exports through a float column write '17850.0'. Ids
    -- beyond DECIMAL(18, 3) (up to the contract's BIGINT bound) take the wide parse below.
    TRY_CAST(@number_text(customer_id_text, 'order_lines', 'customer_id') AS DECIMAL(18, 3)) AS customer_id_number,
    CASE UPPER(SUBSTRING(invoice_no, 1, 1))
      WHEN 'C' THEN 'cancellation'
      WHEN 'A' THEN 'adjustment'
      ELSE 'sale'
    END AS line_type
  FROM trimmed
),

with_integers AS (
  SELECT
    typed.*,
    CASE
      WHEN quantity_number = FLOOR(quantity_number)
        AND @in_range(quantity_number, 'order_lines', 'quantity')
        THEN CAST(quantity_number AS INT)
    END AS quantity,
    CASE
      WHEN customer_id_number IS NOT NULL THEN
        CASE
          WHEN customer_id_number = FLOOR(customer_id_number)
            AND @in_range(customer_id_number, 'order_lines', 'customer_id')
            THEN CAST(CAST(customer_id_number AS BIGINT) AS VARCHAR)
        END
      WHEN TRY_CAST(@number_text(customer_id_text, 'order_lines', 'customer_id') AS DECIMAL(38, 3)) = FLOOR(TRY_CAST(@number_text(customer_id_text, 'order_lines', 'customer_id') AS DECIMAL(38, 3)))
        AND @in_range(TRY_CAST(@number_text(customer_id_text, 'order_lines', 'customer_id') AS DECIMAL(38, 3)), 'order_lines', 'customer_id')
        THEN CAST(CAST(TRY_CAST(@number_text(customer_id_text, 'order_lines', 'customer_id') AS DECIMAL(38, 3)) AS BIGINT) AS VARCHAR)
    END AS customer_id
  FROM typed
),

-- An exact copy (all 8 raw columns equal) of an earlier row of the same batch is a
-- duplicate; the first copy (lowest source row) stays. NULLs compare equal here,
-- because a window partition groups NULLs together.
with_duplicates AS (
  SELECT
    with_integers.*,
    ROW_NUMBER() OVER (
      PARTITION BY
        _batch_id, raw_invoice_no, raw_stock_code, raw_description, raw_quantity,
        raw_invoice_date, raw_unit_price, raw_customer_id, raw_country
      ORDER BY _source_row
    ) AS copy_number
  FROM with_integers
),

-- First rule that applies wins; the order is the one in docs/data-rules.md.
classified AS (
  SELECT
    with_duplicates.*,
    CASE
      WHEN _error IS NOT NULL THEN 'malformed_row'
      WHEN invoice_no IS NULL THEN 'missing_field:invoice_no'
      WHEN stock_code IS NULL THEN 'missing_field:stock_code'
      WHEN quantity_text IS NULL THEN 'missing_field:quantity'
      WHEN invoice_date_text IS NULL THEN 'missing_field:invoice_date'
      WHEN unit_price_text IS NULL THEN 'missing_field:unit_price'
      WHEN @too_long(invoice_no, 'order_lines', 'invoice_no') THEN 'too_long:invoice_no'
      WHEN @too_long(stock_code, 'order_lines', 'stock_code') THEN 'too_long:stock_code'
      WHEN @too_long(description, 'order_lines', 'description') THEN 'too_long:description'
      WHEN @too_long(invoice_date_text, 'order_lines', 'invoice_date') THEN 'too_long:invoice_date'
      WHEN @too_long(country, 'order_lines', 'country') THEN 'too_long:country'
      WHEN quantity IS NULL AND @out_of_range(quantity_text, 'order_lines', 'quantity') THEN 'out_of_range:quantity'
      WHEN quantity IS NULL THEN 'unparseable:quantity'
      WHEN unit_price IS NULL AND @out_of_range(unit_price_text, 'order_lines', 'unit_price')
        THEN 'out_of_range:unit_price'
      WHEN unit_price IS NULL THEN 'unparseable:unit_price'
      WHEN invoice_ts IS NULL THEN 'unparseable:invoice_date'
      WHEN @out_of_range(invoice_ts, 'order_lines', 'invoice_date', window_start, window_end)
        THEN 'out_of_range:invoice_date'
      WHEN customer_id_text IS NOT NULL AND customer_id IS NULL
        AND @out_of_range(customer_id_text, 'order_lines', 'customer_id') THEN 'out_of_range:customer_id'
      WHEN customer_id_text IS NOT NULL AND customer_id IS NULL THEN 'unparseable:customer_id'
      WHEN @product_exceeds_money(quantity, unit_price, 'order_lines', 'quantity') THEN 'out_of_range:line_amount'
      WHEN copy_number > 1 THEN 'duplicate_row'
      WHEN quantity < 0 AND line_type = 'sale' THEN 'stock_note'
      WHEN quantity = 0 THEN 'zero_quantity'
      WHEN line_type = 'sale' AND unit_price <= 0 THEN 'non_positive_price_sale'
      WHEN line_type = 'cancellation' AND quantity > 0 THEN 'cancellation_positive_quantity'
    END AS reason
  FROM with_duplicates
),

with_field AS (
  SELECT
    classified.*,
    @reason_field(reason, 'order_lines') AS field
  FROM classified
)

SELECT
  invoice_no,
  stock_code,
  description,
  quantity,
  unit_price,
  invoice_ts,
  CAST(invoice_ts AS DATE) AS invoice_date,
  customer_id,
  country,
  line_type,
  reason,
  field,
  CASE field
    WHEN 'invoice_no' THEN raw_invoice_no
    WHEN 'stock_code' THEN raw_stock_code
    WHEN 'quantity' THEN raw_quantity
    WHEN 'invoice_date' THEN raw_invoice_date
    WHEN 'unit_price' THEN raw_unit_price
    WHEN 'customer_id' THEN raw_customer_id
    WHEN 'description' THEN raw_description
    WHEN 'country' THEN raw_country
    WHEN 'row' THEN _error
  END AS raw_value,
  raw_invoice_no,
  raw_stock_code,
  raw_description,
  raw_quantity,
  raw_invoice_date,
  raw_unit_price,
  raw_customer_id,
  raw_country,
  event_id,
  _source,
  _batch_id,
  _source_file,
  _source_row,
  _ingested_at
FROM with_field
