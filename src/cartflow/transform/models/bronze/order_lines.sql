/*
  bronze.order_lines: the bronze Parquet dataset of Online Retail order lines, as a view.

  Why a model and not READ_PARQUET inside the staging model: it is the one place that
  reads the lake (rule: READ_PARQUET(@var) only), and it gives SQLMesh unit tests a
  named input to mock. Every column is text as received, plus lineage. The view reads
  the files at query time; downstream models join it to bronze.pending_order_line_batches,
  and DuckDB pushes that join's batch ids into the Parquet scan as a dynamic filter,
  so row groups of other batches are skipped (_batch_id is constant per file).
*/
MODEL (
  name bronze.order_lines,
  kind VIEW,
  description 'Bronze Online Retail order lines (all batches): raw text columns plus lineage.',
  columns (
    invoice_no VARCHAR,
    stock_code VARCHAR,
    description VARCHAR,
    quantity VARCHAR,
    invoice_date VARCHAR,
    unit_price VARCHAR,
    customer_id VARCHAR,
    country VARCHAR,
    event_id VARCHAR,
    _batch_id VARCHAR,
    _source_file VARCHAR,
    _source_row BIGINT,
    _ingested_at TIMESTAMP,
    _source VARCHAR,
    _error VARCHAR
  ),
  column_descriptions (
    _batch_id = 'Content hash of the source file: the batch id.',
    _source_row = '1-based data row number in the source file.',
    event_id = 'The storefront event id (stream batches); NULL for file drops.',
    _source = 'The cartflow.toml source name the batch came from.',
    _error = 'Why the parser could not split this row into fields (NULL when it could).'
  )
);

SELECT
  CAST(invoice_no AS VARCHAR) AS invoice_no,
  CAST(stock_code AS VARCHAR) AS stock_code,
  CAST(description AS VARCHAR) AS description,
  CAST(quantity AS VARCHAR) AS quantity,
  CAST(invoice_date AS VARCHAR) AS invoice_date,
  CAST(unit_price AS VARCHAR) AS unit_price,
  CAST(customer_id AS VARCHAR) AS customer_id,
  CAST(country AS VARCHAR) AS country,
  CAST(event_id AS VARCHAR) AS event_id,
  CAST(_batch_id AS VARCHAR) AS _batch_id,
  CAST(_source_file AS VARCHAR) AS _source_file,
  CAST(_source_row AS BIGINT) AS _source_row,
  CAST(_ingested_at AS TIMESTAMP) AS _ingested_at,
  CAST(_source AS VARCHAR) AS _source,
  CAST(_error AS VARCHAR) AS _error
FROM READ_PARQUET(@bronze_order_lines)
