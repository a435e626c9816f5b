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
    expected_rows = con.execute("SELECT * FROM gold.fct_order_line WHERE _batch_id IN ('b1', 'b2')").to_arrow_table()
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


def test_refresh_onto_streamed_lines_keeps_them_and_resummarises_their_invoices(project: Project) -> None:
    """A store that already holds streamed lines: the batch line with the same event id replaces
    its streamed twin, a streamed line not yet in gold stays, and the invoice totals count both."""
    from datetime import datetime
    from decimal import Decimal

    from cartflow.serving.store import ServingLine

    project.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(project.warehouse_path)) as con:
        con.execute(FCT)

    def streamed(line_id: str, amount: str) -> ServingLine:
        return ServingLine(line_id=line_id, invoice_no="C536379", stock_code="D", description="Discount", quantity=-1,
                           unit_price=Decimal(amount), invoice_ts=datetime(2010, 12, 1, 9, 41), customer_id="unknown",
                           country="United Kingdom", line_type="cancellation", gross_amount=Decimal("0"),
                           return_amount=Decimal(amount), net_amount=-Decimal(amount), currency="GBP",
                           source="storefront", event_id=line_id)

    store = open_store(project)
    try:
        store.upsert([streamed("ev-1", "99.000"), streamed("ev-2", "1.000")])
    finally:
        store.close()
    seen: list[int] = []
    assert refresh_serving(project, ["b2"], progress=seen.append) == 1
    assert seen == [1]
    store = open_store(project)
    try:
        assert store.count_lines() == 2  # ev-1 replaced by gold's version, ev-2 kept
        invoice = store.invoice("C536379")
        assert sorted((i.line_id, str(i.return_amount)) for i in invoice.items) == [("ev-1", "27.500"), ("ev-2", "1.000")]
        totals = store.customer_invoices("unknown").totals
        assert (totals.lines, str(totals.return_amount)) == (2, "28.500")
    finally:
        store.close()
    assert not list(project.root.rglob("*.refresh-stage"))  # the staging file is removed
