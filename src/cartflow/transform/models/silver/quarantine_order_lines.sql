/*
  silver.quarantine_order_lines: every rejected bronze order line, with why.

  Rows are kept as received (raw text) so they can be fixed at the source and replayed;
  `reason` is the first rule that rejected the row, `field`/`raw_value` point at the
  offending value. Same key as silver.order_lines, so together they hold each bronze
  row exactly once.
*/
MODEL (
  name silver.quarantine_order_lines,
  tags (publish),
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (_batch_id, _source_row)
  ),
  grain (_batch_id, _source_row),
  description 'Rejected order lines: reason code, offending field and value, raw columns, lineage.',
  audits (
    not_null(columns := (_batch_id, _source_row, entity, reason))
  )
);

WITH staged AS (
  SELECT * FROM silver.stg_order_lines
),

rejected AS (
  SELECT * FROM staged WHERE reason IS NOT NULL
)

SELECT
  CAST('order_lines' AS VARCHAR) AS entity,
  CAST(reason AS VARCHAR) AS reason,
  CAST(field AS VARCHAR) AS field,
  CAST(raw_value AS VARCHAR) AS raw_value,
  CAST(raw_invoice_no AS VARCHAR) AS invoice_no,
  CAST(raw_stock_code AS VARCHAR) AS stock_code,
  CAST(raw_description AS VARCHAR) AS description,
  CAST(raw_quantity AS VARCHAR) AS quantity,
  CAST(raw_invoice_date AS VARCHAR) AS invoice_date,
  CAST(raw_unit_price AS VARCHAR) AS unit_price,
  CAST(raw_customer_id AS VARCHAR) AS customer_id,
  CAST(raw_country AS VARCHAR) AS country,
  CAST(event_id AS VARCHAR) AS event_id,
  CAST(_source AS VARCHAR) AS _source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM rejected
