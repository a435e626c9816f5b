/*
  gold.fct_order_line: one row per silver order line and per transaction or sales line,
  with money split by definition and dimension keys as of the line's time.

  A thin union of its two halves, each documented where it is built:
  gold.int_order_line_facts (Online Retail order lines: ids, as-of keys, amounts) and
  gold.int_entity_line_facts (transactions and sales, already in the base currency).
  Incremental by order_line_id: each half holds only the pending batches' rows.
*/
MODEL (
  name gold.fct_order_line,
  tags (publish),
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key order_line_id
  ),
  grain order_line_id,
  description 'Order line fact: one row per silver line, amounts in DECIMAL, dimension keys as of invoice_ts.',
  audits (
    not_null(columns := (order_line_id, invoice_no, stock_code, customer_id, customer_sk, product_sk, invoice_ts, invoice_date, line_type)),
    unique_values(columns := (order_line_id)),
    accepted_values(column := line_type, is_in := ('sale', 'cancellation', 'adjustment')),
    non_negative(columns := (gross_amount, return_amount))
  )
);

SELECT * FROM gold.int_order_line_facts
UNION ALL
SELECT * FROM gold.int_entity_line_facts
