"""The publish step's bulk refresh writes exactly what the generic refresh writes."""

from pathlib import Path

import duckdb

from cartflow.config import Project
from cartflow.publish.serving import refresh_serving
from cartflow.serving.refresh import refresh_from_gold
from cartflow.serving.sqlite_store import SqliteStore
from cartflow.serving.store import open_store

FCT = """
CREATE SCHEMA gold;
CREATE TABLE gold.fct_order_line AS SELECT * FROM (VALUES
  ('l1', '536365', 'sale', '85123A', 'WHITE HANGING HEART', '17850', 'United Kingdom',
   TIMESTAMP '2010-12-01 08:26:00', 6, 2.550::DECIMAL(18,3), 15.300::DECIMAL(18,3), 0.000::DECIMAL(18,3),
   15.300::DECIMAL(18,3), 'GBP', 'online_retail', NULL, 'b1'),
  ('l2', '536365', 'sale', '71053', 'WHITE METAL LANTERN', '17850', 'United Kingdom',
   TIMESTAMP '2010-12-01 08:26:00', 6, 3.390::DECIMAL(18,3), 20.340::DECIMAL(18,3), 0.000::DECIMAL(18,3),
   20.340::DECIMAL(18,3), 'GBP', 'online_retail', NULL, 'b1'),
  ('l3', 'C536379', 'cancellation', 'D', 'Discount', 'unknown', 'United Kingdom',
   TIMESTAMP '2010-12-01 09:41:00', -1, 27.500::DECIMAL(18,3), 0.000::DECIMAL(18,3), 27.500::DECIMAL(18,3),
   -27.500::DECIMAL(18,3), 'GBP', 'storefront', 'ev-1', 'b2'),
  ('l4', '536400', 'sale', '22633', 'HAND WARMER', '13047', 'United Kingdom',
   TIMESTAMP '2010-12-02 10:00:00', 1, 1.850::DECIMAL(18,3), 1.850::DECIMAL(18,3), 0.000::DECIMAL(18,3),
   1.850::DECIMAL(18,3), 'GBP', 'online_retail', NULL, 'other-batch')
) AS t(order_line_id, invoice_no, line_type, stock_code, description, customer_id, country, invoice_ts, quantity,
       unit_price, gross_amount, return_amount, net_amount, currency, source, event_id, _batch_id);
"""


def test_bulk_refresh_matches_the_generic_refresh_and_only_takes_the_given_batches(project: Project, tmp_path: Path) -> None:
    project.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(project.warehouse_path))
    con.execute(FCT)
    expected_rows = con.execute("SELECT * FROM gold.fct_order_line WHERE _batch_id IN ('b1', 'b2')").fetch_arrow_table()
    con.close()

    assert refresh_serving(project, ["b1", "b2"]) == 3
    assert refresh_serving(project, ["b1", "b2"]) == 3  # idempotent: upserts, not appends
    generic = SqliteStore(tmp_path / "generic.db")
    refresh_from_gold(generic, expected_rows)

    bulk = open_store(project)
    try:
        assert bulk.count_lines() == generic.count_lines() == 3
        for invoice_no in ("536365", "C536379"):
            assert bulk.invoice(invoice_no) == generic.invoice(invoice_no)
        assert bulk.invoice("536400") is None  # its batch was not part of this run
        assert bulk.customer_invoices("unknown").invoices[0].invoice_no == "C536379"
        assert str(bulk.customer_invoices("17850").totals.gross_amount) == "35.640"
    finally:
        bulk.close()
        generic.close()
