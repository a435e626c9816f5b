/*
  silver.order_lines: the good Online Retail order lines, typed, one row per bronze row.

  Incremental by the bronze row's identity (_batch_id, _source_row): a run merges the
  pending batches only, and re-running a batch overwrites its rows with identical values,
  so replays change nothing.
*/
MODEL (
  name silver.order_lines,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (_batch_id, _source_row)
  ),
  grain (_batch_id, _source_row),
  description 'Typed, cleaned order lines (sales, cancellations, adjustments) with lineage.',
  audits (
    not_null(columns := (_batch_id, _source_row, invoice_no, stock_code, quantity, unit_price, invoice_ts, invoice_date, line_type)),
    accepted_values(column := line_type, is_in := ('sale', 'cancellation', 'adjustment'))
  )
);

WITH staged AS (
  SELECT * FROM silver.stg_order_lines
),

good AS (
  SELECT * FROM staged WHERE reason IS NULL
)

SELECT
  CAST(invoice_no AS VARCHAR) AS invoice_no,
  CAST(stock_code AS VARCHAR) AS stock_code,
  CAST(description AS VARCHAR) AS description,
  CAST(quantity AS INT) AS quantity,
  CAST(unit_price AS DECIMAL(18, 3)) AS unit_price,
  CAST(invoice_ts AS TIMESTAMP) AS invoice_ts,
  CAST(invoice_date AS DATE) AS invoice_date,
  CAST(customer_id AS VARCHAR) AS customer_id,
  CAST(country AS VARCHAR) AS country,
  CAST(line_type AS VARCHAR) AS line_type,
  CAST(@currency AS VARCHAR) AS currency,
  CAST(event_id AS VARCHAR) AS event_id,
  CAST(_source AS VARCHAR) AS _source,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at
FROM good
