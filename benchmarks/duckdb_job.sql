/*
  The pandas baseline's job (benchmarks/impl_pandas.py) as one DuckDB script: the honest
  floor for this engine. benchmarks/impl_duckdb_job.py fills in the braced names (the
  settings, the CSV glob and the output directory), then runs it on an in-memory database.

  Same steps, same order as the pandas baseline: read every CSV as text (latin-1), number
  the rows of each file, trim, type, classify with the 14 rules of docs/data-rules.md
  (the first failing rule wins), drop exact copies within a file (the first one stays),
  write silver and quarantine Parquet, then the revenue-monthly, top-products-by-season
  and RFM marts of docs/definitions.md. Money is DECIMAL(18, 3), as in cartflow.
*/
SET memory_limit = '{memory_limit}';
SET threads = {threads};
SET temp_directory = '{temp_directory}';
SET preserve_insertion_order = true;

-- Read once, in file order (the glob is sorted, insertion order is kept), so the table's
-- rowid minus the file's first rowid is the row's number in its file.
CREATE TEMP TABLE raw_lines AS
SELECT
  invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country,
  parse_filename(filename) AS _source_file
FROM read_csv(
  {csv_glob},
  header = true,
  all_varchar = true,
  encoding = 'latin-1',
  filename = true,
  names = ['invoice_no', 'stock_code', 'description', 'quantity', 'invoice_date', 'unit_price',
           'customer_id', 'country']
);

CREATE TEMP TABLE classified AS
WITH raw_rows AS (
  SELECT rowid AS table_row, * FROM raw_lines
),

file_starts AS (
  SELECT _source_file, MIN(table_row) AS first_row FROM raw_rows GROUP BY _source_file
),

numbered AS (
  SELECT raw_rows.*, raw_rows.table_row - file_starts.first_row + 1 AS _source_row
  FROM raw_rows
  INNER JOIN file_starts ON raw_rows._source_file = file_starts._source_file
),

trimmed AS (
  SELECT
    numbered.*,
    NULLIF(TRIM(invoice_no), '') AS t_invoice_no,
    UPPER(NULLIF(TRIM(stock_code), '')) AS t_stock_code,
    NULLIF(TRIM(description), '') AS t_description,
    NULLIF(TRIM(quantity), '') AS t_quantity,
    NULLIF(TRIM(invoice_date), '') AS t_invoice_date,
    NULLIF(TRIM(unit_price), '') AS t_unit_price,
    NULLIF(TRIM(customer_id), '') AS t_customer_id,
    NULLIF(TRIM(country), '') AS t_country
  FROM numbered
),

typed AS (
  SELECT
    trimmed.*,
    TRY_CAST(t_quantity AS DECIMAL(18, 3)) AS quantity_number,
    TRY_CAST(t_unit_price AS DECIMAL(18, 3)) AS t_price,
    TRY_STRPTIME(t_invoice_date, '%m/%d/%Y %H:%M') AS invoice_ts,
    TRY_CAST(t_customer_id AS DECIMAL(18, 3)) AS customer_number,
    CASE UPPER(SUBSTRING(t_invoice_no, 1, 1))
      WHEN 'C' THEN 'cancellation'
      WHEN 'A' THEN 'adjustment'
      ELSE 'sale'
    END AS line_type
  FROM trimmed
),

integers AS (
  SELECT
    typed.*,
    CASE
      WHEN quantity_number = FLOOR(quantity_number) AND ABS(quantity_number) <= 2147483647
        THEN CAST(quantity_number AS INT)
    END AS t_qty,
    CASE
      WHEN customer_number > 0 AND customer_number = FLOOR(customer_number)
        THEN CAST(CAST(customer_number AS BIGINT) AS VARCHAR)
    END AS t_customer
  FROM typed
),

-- An exact copy of an earlier row of the same file (all 8 raw columns) is a duplicate.
copies AS (
  SELECT
    integers.*,
    ROW_NUMBER() OVER (
      PARTITION BY _source_file, invoice_no, stock_code, description, quantity, invoice_date,
        unit_price, customer_id, country
      ORDER BY _source_row
    ) AS copy_number
  FROM integers
),

rules AS (
  SELECT
    copies.*,
    CASE
      WHEN t_invoice_no IS NULL THEN 'missing_field:invoice_no'
      WHEN t_stock_code IS NULL THEN 'missing_field:stock_code'
      WHEN t_quantity IS NULL THEN 'missing_field:quantity'
      WHEN t_invoice_date IS NULL THEN 'missing_field:invoice_date'
      WHEN t_unit_price IS NULL THEN 'missing_field:unit_price'
      WHEN t_qty IS NULL THEN 'unparseable:quantity'
      WHEN t_price IS NULL THEN 'unparseable:unit_price'
      WHEN invoice_ts IS NULL THEN 'unparseable:invoice_date'
      WHEN t_customer_id IS NOT NULL AND t_customer IS NULL THEN 'unparseable:customer_id'
      WHEN copy_number > 1 THEN 'duplicate_row'
      WHEN t_qty < 0 AND line_type = 'sale' THEN 'stock_note'
      WHEN t_qty = 0 THEN 'zero_quantity'
      WHEN line_type = 'sale' AND t_price <= 0 THEN 'non_positive_price_sale'
      WHEN line_type = 'cancellation' AND t_qty > 0 THEN 'cancellation_positive_quantity'
    END AS reason
  FROM copies
)

-- Only what the outputs need is kept: the raw text (quarantine), the typed values (silver).
SELECT
  invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country,
  _source_file, _source_row,
  t_invoice_no, t_stock_code, t_description, t_qty, t_price, invoice_ts, t_customer, t_country, line_type,
  reason,
  CASE
    WHEN reason LIKE 'missing_field:%' OR reason LIKE 'unparseable:%'
      THEN SUBSTRING(reason, STRPOS(reason, ':') + 1)
    WHEN reason IN ('stock_note', 'zero_quantity', 'cancellation_positive_quantity') THEN 'quantity'
    WHEN reason = 'non_positive_price_sale' THEN 'unit_price'
  END AS field
FROM rules;

COPY (
  SELECT
    t_invoice_no AS invoice_no,
    t_stock_code AS stock_code,
    t_description AS description,
    t_qty AS quantity,
    t_price AS unit_price,
    invoice_ts,
    CAST(invoice_ts AS DATE) AS invoice_date,
    t_customer AS customer_id,
    t_country AS country,
    line_type,
    'GBP' AS currency,
    _source_file,
    _source_row
  FROM classified
  WHERE reason IS NULL
) TO '{out}/order_lines.parquet' (FORMAT parquet);

COPY (
  SELECT
    invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country,
    _source_file,
    _source_row,
    reason,
    field,
    CASE field
      WHEN 'invoice_no' THEN invoice_no
      WHEN 'stock_code' THEN stock_code
      WHEN 'quantity' THEN quantity
      WHEN 'invoice_date' THEN invoice_date
      WHEN 'unit_price' THEN unit_price
      WHEN 'customer_id' THEN customer_id
    END AS raw_value
  FROM classified
  WHERE reason IS NOT NULL
) TO '{out}/quarantine_order_lines.parquet' (FORMAT parquet);

-- The silver lines with their amounts, once, for the three marts.
CREATE TEMP TABLE lines AS
WITH silver AS (
  SELECT
    t_invoice_no AS invoice_no,
    t_stock_code AS stock_code,
    t_description AS description,
    t_qty AS quantity,
    invoice_ts,
    CAST(invoice_ts AS DATE) AS invoice_date,
    t_customer AS customer_id,
    line_type,
    CAST(t_qty * t_price AS DECIMAL(18, 3)) AS amount,
    line_type = 'sale' AND t_qty > 0 AND t_price > 0 AS is_sale,
    line_type = 'cancellation' AS is_cancel
  FROM classified
  WHERE reason IS NULL
)

SELECT
  silver.*,
  CASE WHEN is_sale THEN amount ELSE 0 END AS gross_amount,
  CASE WHEN is_cancel THEN ABS(amount) ELSE 0 END AS return_amount,
  CASE WHEN is_sale THEN amount ELSE 0 END - CASE WHEN is_cancel THEN ABS(amount) ELSE 0 END AS net_amount
FROM silver;

COPY (
  WITH revenue AS (
    SELECT
      CAST(DATE_TRUNC('month', invoice_date) AS DATE) AS period_start,
      SUM(gross_amount) AS gross_sales,
      SUM(return_amount) AS returns,
      SUM(net_amount) AS net_revenue,
      COUNT(DISTINCT invoice_no) FILTER (WHERE is_sale) AS orders,
      COUNT(DISTINCT customer_id) FILTER (WHERE is_sale) AS customers
    FROM lines
    GROUP BY 1
  )

  SELECT
    period_start,
    CAST(gross_sales AS DECIMAL(18, 3)) AS gross_sales,
    CAST(returns AS DECIMAL(18, 3)) AS returns,
    CAST(net_revenue AS DECIMAL(18, 3)) AS net_revenue,
    orders,
    customers,
    CAST(ROUND(CAST(gross_sales AS DECIMAL(38, 6)) / NULLIF(orders, 0), 3) AS DECIMAL(18, 3)) AS avg_order_value
  FROM revenue
  ORDER BY period_start
) TO '{out}/mart_revenue_monthly.parquet' (FORMAT parquet);

COPY (
  WITH current_descriptions AS (
    -- the product's latest non-null description (the greater one wins a tie)
    SELECT stock_code, ARG_MAX(description, (invoice_ts, description)) AS description
    FROM lines
    WHERE description IS NOT NULL
    GROUP BY stock_code
  ),

  product_lines AS (
    SELECT
      stock_code,
      quantity,
      net_amount,
      CASE
        WHEN MONTH(invoice_date) IN (12, 1, 2) THEN 'winter'
        WHEN MONTH(invoice_date) IN (3, 4, 5) THEN 'spring'
        WHEN MONTH(invoice_date) IN (6, 7, 8) THEN 'summer'
        ELSE 'autumn'
      END AS season,
      YEAR(invoice_date) + CASE WHEN MONTH(invoice_date) = 12 THEN 1 ELSE 0 END AS season_year
    FROM lines
    WHERE (is_sale OR is_cancel)
      AND stock_code NOT IN ('POST', 'DOT', 'M', 'C2', 'D', 'S', 'BANK CHARGES', 'AMAZONFEE', 'CRUK',
                             'PADS', 'B')
      AND NOT STARTS_WITH(stock_code, 'GIFT_')
      AND NOT STARTS_WITH(stock_code, 'DCGS')
  ),

  product_seasons AS (
    SELECT season_year, season, stock_code, SUM(net_amount) AS revenue, SUM(quantity) AS quantity
    FROM product_lines
    GROUP BY season_year, season, stock_code
  ),

  ranked AS (
    SELECT
      product_seasons.*,
      ROW_NUMBER() OVER (PARTITION BY season_year, season ORDER BY revenue DESC, stock_code) AS revenue_rank,
      ROW_NUMBER() OVER (PARTITION BY season_year, season ORDER BY quantity DESC, stock_code) AS quantity_rank
    FROM product_seasons
  ),

  top_products AS (
    SELECT season_year, season, 'revenue' AS ranking, revenue_rank AS rank, stock_code, revenue, quantity
    FROM ranked
    WHERE revenue_rank <= 10
    UNION ALL
    SELECT season_year, season, 'quantity' AS ranking, quantity_rank AS rank, stock_code, revenue, quantity
    FROM ranked
    WHERE quantity_rank <= 10
  )

  SELECT
    top_products.season_year,
    top_products.season,
    top_products.ranking,
    top_products.rank,
    top_products.stock_code,
    current_descriptions.description,
    CAST(top_products.revenue AS DECIMAL(18, 3)) AS revenue,
    top_products.quantity
  FROM top_products
  LEFT JOIN current_descriptions ON top_products.stock_code = current_descriptions.stock_code
  ORDER BY season_year, season, ranking, rank
) TO '{out}/mart_top_products_by_season.parquet' (FORMAT parquet);

COPY (
  WITH reference_date AS (
    SELECT MAX(invoice_date) AS last_invoice_date FROM lines
  ),

  customer_totals AS (
    SELECT
      customer_id,
      MAX(invoice_date) FILTER (WHERE is_sale) AS last_purchase_date,
      COUNT(DISTINCT invoice_no) FILTER (WHERE is_sale) AS frequency,
      SUM(net_amount) AS monetary
    FROM lines
    WHERE customer_id IS NOT NULL
    GROUP BY customer_id
  ),

  measured AS (
    SELECT
      customer_totals.*,
      DATE_DIFF('day', customer_totals.last_purchase_date, reference_date.last_invoice_date) AS recency_days
    FROM customer_totals
    CROSS JOIN reference_date
    WHERE customer_totals.frequency > 0
  ),

  scored AS (
    SELECT
      measured.*,
      NTILE(5) OVER (ORDER BY recency_days DESC, customer_id) AS r_score,
      NTILE(5) OVER (ORDER BY frequency, customer_id) AS f_score,
      NTILE(5) OVER (ORDER BY monetary, customer_id) AS m_score
    FROM measured
  )

  SELECT
    customer_id,
    last_purchase_date,
    frequency,
    CAST(monetary AS DECIMAL(18, 3)) AS monetary,
    recency_days,
    r_score,
    f_score,
    m_score,
    CASE
      WHEN r_score >= 4 AND f_score >= 4 AND m_score >= 4 THEN 'Champions'
      WHEN r_score >= 3 AND f_score >= 4 THEN 'Loyal'
      WHEN r_score >= 4 AND f_score = 1 THEN 'New'
      WHEN r_score >= 4 THEN 'Potential loyalist'
      WHEN r_score <= 2 AND f_score >= 3 THEN 'At risk'
      WHEN r_score = 3 THEN 'Need attention'
      WHEN r_score = 1 AND f_score = 1 THEN 'Lost'
      ELSE 'Hibernating'
    END AS segment,
    CAST(r_score AS VARCHAR) || CAST(f_score AS VARCHAR) || CAST(m_score AS VARCHAR) AS rfm_score
  FROM scored
  ORDER BY customer_id
) TO '{out}/mart_customer_rfm.parquet' (FORMAT parquet);
