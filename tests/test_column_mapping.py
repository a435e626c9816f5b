"""Column mapping: any source (files, http, postgres) maps its own names onto an entity's columns.

`[sources.<name>.columns]` names the source's column (or dotted JSON path) for a canonical
column; unmapped columns fall back to the contract's spellings. A mapping the file lacks
fails that file naming source, file and column; a key that is no column of the entity is
a config error that suggests the right one. `fill_down` fills order-level fields a Shopify
export writes on an order's first line only; per-source date formats and the shop's time
zone reach silver through the settings table.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cartflow.config import ConfigError, FilesSource, Project, load_project, parse_config
from cartflow.entities import ENTITIES
from cartflow.lake.bronze import BronzeError, Layout, bronze_schema, convert, layout_for, to_bronze
from cartflow.lake.bronze_columns import FillDown, render_iso_dates
from cartflow.lake.bronze_readers import as_text
from cartflow.lake.storage import LocalStorage, open_lake
from cartflow.runtime.backends import open_state
from cartflow.runtime.progress import QuietReporter
from cartflow.runtime.state import SqliteState
from cartflow.sources import extract
from cartflow.sources.files import check_file
from cartflow.transform.inputs import SETTINGS_SCHEMA, source_settings

SHOP_MAPPING = {"invoice_no": "order_id", "stock_code": "sku", "description": "product_title", "quantity": "qty",
                "invoice_date": "ordered_at", "unit_price": "price", "customer_id": "customer", "country": "ship_to"}
SHOP_CSV = ("order_id,sku,product_title,qty,ordered_at,price,customer,ship_to,channel\n"
            "1001,MUG-1,Blue mug,2,2024-03-05 14:12:01,9.50,42,France,web\n"
            "1002,TEE-M,\"Tee, medium\",1,2024-03-06 09:00:00,19.999,,Spain,pos\n")


def configure(project: Project, extra: str) -> Project:
    path = project.root / "cartflow.toml"
    path.write_text(path.read_text() + extra)
    return load_project(project.root)


def bronze_of(tmp_path: Path, raw: Path, entity: str, layout: Layout, source: str = "shop") -> tuple[Any, list[dict]]:
    out = tmp_path / f"{raw.name}.bronze.parquet"
    result = convert(raw, out, source=source, entity=entity, batch_id="b1", source_file=raw.name,
                     ingested_at=datetime(2024, 1, 1), layout=layout)
    table = pq.read_table(out)
    assert table.schema == bronze_schema(entity)
    return result, table.to_pylist()


# -- files ---------------------------------------------------------------------------------
def test_a_csv_with_its_own_headers_becomes_order_line_bronze(project: Project, tmp_path: Path) -> None:
    mapping = "\n".join(f'{k} = "{v}"' for k, v in SHOP_MAPPING.items())
    project = configure(project, f"""
[sources.shop_orders]
kind = "files"
entity = "order_lines"
path = "landing/shop_orders"

[sources.shop_orders.csv]
encoding = "utf-8"
date_format = "%Y-%m-%d %H:%M:%S"

[sources.shop_orders.columns]
{mapping}
""")
    source = project.config.sources["shop_orders"]
    raw = tmp_path / "orders.csv"
    raw.write_text(SHOP_CSV, encoding="utf-8")
    result, rows = bronze_of(tmp_path, raw, "order_lines", layout_for(source, "orders.csv"), "shop_orders")
    assert [(r["invoice_no"], r["stock_code"], r["quantity"], r["unit_price"], r["customer_id"], r["country"])
            for r in rows] == [("1001", "MUG-1", "2", "9.50", "42", "France"), ("1002", "TEE-M", "1", "19.999",
                                                                                 None, "Spain")]
    assert rows[1]["description"] == "Tee, medium" and rows[0]["invoice_date"] == "2024-03-05 14:12:01"
    assert [r["_source_row"] for r in rows] == [1, 2] and {r["_source"] for r in rows} == {"shop_orders"}
    assert result.warnings == ["shop_orders: orders.csv: extra column 'channel' ignored"]


def test_unmapped_columns_fall_back_to_the_accepted_spellings(tmp_path: Path) -> None:
    raw = tmp_path / "mixed.csv"
    raw.write_text("Invoice,sku,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
                   "536365,X-1,85123A,Heart,6,12/1/2010 8:26,2.55,17850,United Kingdom\n", encoding="utf-8")
    _, rows = bronze_of(tmp_path, raw, "order_lines", Layout("csv", columns={"stock_code": "sku"}))
    # the mapped column wins over the spelling; the rest resolve by spelling (Online Retail II here)
    assert (rows[0]["stock_code"], rows[0]["invoice_no"], rows[0]["unit_price"], rows[0]["customer_id"]) == (
        "X-1", "536365", "2.55", "17850")


def test_order_lines_without_the_optional_columns_are_null_there(tmp_path: Path) -> None:
    raw = tmp_path / "lean.csv"
    raw.write_text("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n536365,85123A,6,12/1/2010 8:26,2.55\n",
                   encoding="utf-8")
    _, rows = bronze_of(tmp_path, raw, "order_lines", Layout("csv"))
    assert (rows[0]["description"], rows[0]["customer_id"], rows[0]["country"]) == (None, None, None)
    assert rows[0]["invoice_no"] == "536365" and rows[0]["unit_price"] == "2.55"


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_every_required_column_of_every_entity_is_named_when_absent(entity: str, tmp_path: Path) -> None:
    contract = ENTITIES[entity]
    raw = tmp_path / "nothing.csv"
    raw.write_text("unrelated,columns\n1,2\n", encoding="utf-8")
    with pytest.raises(BronzeError) as err:
        bronze_of(tmp_path, raw, entity, Layout("csv"))
    msg = str(err.value)
    assert msg.startswith("shop: nothing.csv: row 1 (header): missing column")
    assert all(repr(c) in msg for c in contract.required_columns) and "[sources.shop.columns]" in msg


@pytest.mark.parametrize("fmt,body", [
    ("csv", SHOP_CSV.replace("qty", "quantity_ordered")),
    ("json", json.dumps([{"order": {"id": "1001"}, "sku": "A", "qty": 1, "at": "2024-03-05", "price": 1}])),
    ("ndjson", '{"order": {"id": "1001"}, "sku": "A", "qty": 1, "at": "2024-03-05", "price": 1}\n'),
])
def test_a_mapped_column_the_file_lacks_fails_that_file_naming_source_file_and_column(
        fmt: str, body: str, tmp_path: Path) -> None:
    mapping = dict(SHOP_MAPPING) if fmt == "csv" else {"invoice_no": "order.number", "stock_code": "sku",
                                                       "quantity": "qty", "invoice_date": "at", "unit_price": "price"}
    raw = tmp_path / f"orders.{fmt}"
    raw.write_text(body, encoding="utf-8")
    with pytest.raises(BronzeError) as err:
        bronze_of(tmp_path, raw, "order_lines", Layout(fmt, columns=mapping))  # type: ignore[arg-type]
    missing = "qty" if fmt == "csv" else "order.number"
    assert str(err.value).startswith(f"shop: orders.{fmt}: ")
    assert f"missing column {missing!r}" in str(err.value) and "[sources.shop.columns]" in str(err.value)


def test_the_landing_inbox_rejects_a_file_without_a_mapped_column_with_its_reason(project: Project) -> None:
    project = configure(project, """
[sources.shop]
kind = "files"
path = "landing/shop"

[sources.shop.csv]
encoding = "utf-8"

[sources.shop.columns]
quantity = "qty"
""")
    source = project.config.sources["shop"]
    assert isinstance(source, FilesSource)
    good = project.root / "good.csv"
    good.write_text("InvoiceNo,StockCode,qty,InvoiceDate,UnitPrice\n1,A,2,12/1/2010 8:26,1.5\n", encoding="utf-8")
    bad = project.root / "bad.csv"
    bad.write_text("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n1,A,2,12/1/2010 8:26,1.5\n", encoding="utf-8")
    assert check_file(good, source, "shop") is None
    rejection = check_file(bad, source, "shop")
    assert rejection is not None and rejection.code == "missing_column"
    assert rejection.message.startswith("shop: bad.csv: row 1 (header): missing column 'qty' (mapped to quantity)")


def test_json_records_map_dotted_paths_and_keep_numbers_as_text(tmp_path: Path) -> None:
    raw = tmp_path / "customers.json"
    raw.write_text(json.dumps({"data": [
        {"customer": {"id": 7, "contact": {"mail": "a@b.c"}}, "full_name": "Ann", "age": 41.0},
        {"customer": {"id": "C8"}, "full_name": "Bo", "age": None},
        "not an object"]}).replace("41.0", "41.000"), encoding="utf-8")
    layout = Layout("json", records_path="data", columns={"customer_id": "customer.id", "email": "customer.contact.mail",
                                                          "customer_name": "full_name"})
    result, rows = bronze_of(tmp_path, raw, "customers", layout)
    assert [(r["customer_id"], r["email"], r["customer_name"], r["age"]) for r in rows[:2]] == [
        ("7", "a@b.c", "Ann", "41.000"), ("C8", None, "Bo", None)]
    assert rows[2]["_error"].startswith("malformed record: not a JSON object") and result.malformed_rows == 1
    assert result.warnings == ["shop: customers.json: extra column 'customer' ignored"]


# -- http: a real server on this machine ----------------------------------------------------
@pytest.fixture
def api() -> Iterator[str]:
    page = {"items": [{"order": {"ref": "A-1"}, "line": {"sku": "p1", "qty": 3}, "when": "2024-03-05T14:12:01+01:00",
                       "amount": "12.345"}]}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps(page).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/orders"
    server.shutdown()
    server.server_close()


def test_an_http_source_maps_json_paths_of_its_pages(api: str, tmp_path: Path) -> None:
    from cartflow.sources.http import extract_http

    raw = {"kind": "http", "entity": "order_lines", "url": api, "records_path": "items",
           "columns": {"invoice_no": "order.ref", "stock_code": "line.sku", "quantity": "line.qty",
                       "invoice_date": "when", "unit_price": "amount"}}
    source = parse_config({"sources": {"api": raw}}).sources["api"]
    storage, state = LocalStorage(tmp_path / "lake"), SqliteState(tmp_path / "state.db")
    try:
        assert extract_http(storage, state, QuietReporter(), "api", source, "r1").landed == 1
        (m,) = state.manifests()
        result = to_bronze(storage, m.raw_key, source="api", entity="order_lines", batch_id=m.batch_id,
                           source_file=m.source_file, ingested_at=datetime.now(), layout=layout_for(source, m.raw_key))
    finally:
        state.close()
    (row,) = pq.read_table(storage.uri(result.key)).to_pylist()
    assert (row["invoice_no"], row["stock_code"], row["quantity"], row["unit_price"]) == ("A-1", "p1", "3", "12.345")
    assert row["invoice_date"] == "2024-03-05T14:12:01+01:00"  # as received: silver converts the offset
    # a page without a mapped path cannot become bronze: the error names source, page and path
    wrong = Layout("json", records_path="items", columns={**dict(source.columns), "invoice_no": "order.number"})
    with pytest.raises(BronzeError) as err:
        to_bronze(storage, m.raw_key, source="api", entity="order_lines", batch_id=m.batch_id,
                  source_file=m.source_file, ingested_at=datetime.now(), layout=wrong)
    assert str(err.value).startswith(f"api: {m.source_file}: the records: missing column 'order.number' (mapped to "
                                     "invoice_no)")


# -- postgres: a real table with its own column names ----------------------------------------
@pytest.fixture(autouse=False)
def pg_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "cartflow")


def test_a_postgres_table_maps_its_columns_and_renders_timestamptz_in_the_shop_zone(
        pg_dsn: str, pg_schema: str, pg_password: None, tmp_path: Path) -> None:
    from cartflow.sources.postgres import extract_postgres

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {pg_schema}.purchases (ref text PRIMARY KEY, buyer text, item text, "
                     "units int, paid numeric(18,3), placed timestamptz)")
        conn.execute(f"INSERT INTO {pg_schema}.purchases VALUES ('T1', 'C1', 'P1', 2, 1241.010, "
                     "'2024-03-31 23:30:00+00'), ('T2', NULL, 'P2', 1, 5.000, NULL)")
    raw = {"kind": "postgres", "entity": "transactions", "table": f"{pg_schema}.purchases", "key": ["ref"],
           "dsn": pg_dsn.replace("cartflow:cartflow@", "cartflow@"),
           "columns": {"transaction_id": "ref", "customer_id": "buyer", "product_id": "item", "quantity": "units",
                       "total_amount": "paid", "transaction_date": "placed"}}
    source = parse_config({"sources": {"db": raw}}).sources["db"]
    storage, state = LocalStorage(tmp_path / "lake"), SqliteState(tmp_path / "state.db")
    try:
        assert extract_postgres(storage, state, QuietReporter(), "db", source, "r1").landed == 1
        (m,) = state.manifests()
        result = to_bronze(storage, m.raw_key, source="db", entity="transactions", batch_id=m.batch_id,
                           source_file=m.source_file, ingested_at=datetime.now(),
                           layout=layout_for(source, m.raw_key, timezone="Europe/Paris"))
    finally:
        state.close()
    rows = pq.read_table(storage.uri(result.key)).to_pylist()
    assert [(r["transaction_id"], r["customer_id"], r["product_id"], r["quantity"], r["total_amount"])
            for r in rows] == [("T1", "C1", "P1", "2", "1241.010"), ("T2", None, "P2", "1", "5.000")]
    assert rows[0]["transaction_date"] == "2024-04-01 01:30:00.000000"  # 23:30 UTC is 01:30 the next day in Paris (CEST)
    assert rows[1]["transaction_date"] is None


# -- config ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,extra", [
    ("files", {"path": "x"}),
    ("http", {"url": "http://127.0.0.1:1/x"}),
    ("postgres", {"table": "t"}),
])
@pytest.mark.parametrize("entity,typo,meant", [
    ("order_lines", "qty", "quantity"),
    ("order_lines", "invoice_number", "invoice_no"),
    ("customers", "customer_mail", "customer_id"),
    ("exchange_rates", "rate", "rate_date"),
])
def test_a_mapping_key_that_is_no_column_is_a_config_error_with_a_suggestion(
        kind: str, extra: dict, entity: str, typo: str, meant: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"sources": {"s": {"kind": kind, "entity": entity, **extra, "columns": {typo: "whatever"}}}})
    msg = str(err.value)
    assert f"columns.{typo}: {typo!r} is not a column of entity {entity}: did you mean {meant!r}?" in msg
    assert ", ".join(ENTITIES[entity].column_names) in msg and "[sources.s]" in msg


def test_fill_down_names_columns_of_the_entity() -> None:
    with pytest.raises(ConfigError, match="fill_down: 'invoice_dat' is not a column of entity order_lines: did you "
                                          "mean 'invoice_date'"):
        parse_config({"sources": {"s": {"kind": "files", "path": "x", "fill_down": ["invoice_dat"]}}})
    with pytest.raises(ConfigError, match="'invoice_no' groups the rows"):
        parse_config({"sources": {"s": {"kind": "files", "path": "x", "fill_down": ["invoice_no"]}}})
    source = parse_config({"sources": {"s": {"kind": "files", "path": "x", "fill_down": ["country"]}}}).sources["s"]
    assert source.fill_down_key() == "invoice_no"  # the entity's first key column


def test_the_project_timezone_is_an_iana_name() -> None:
    assert parse_config({}).project.timezone == "UTC"
    assert parse_config({"project": {"timezone": "Europe/Paris"}}).project.timezone == "Europe/Paris"
    with pytest.raises(ConfigError, match=r"project.timezone = 'CET\+1'.*IANA"):
        parse_config({"project": {"timezone": "CET+1"}})


# -- fill-down -----------------------------------------------------------------------------
def test_fill_down_fills_continuation_rows_only_within_the_same_order(tmp_path: Path) -> None:
    raw = tmp_path / "export.csv"
    raw.write_text("Name,Created at,Shipping Country,Lineitem sku,Lineitem quantity,Lineitem price\n"
                   "#1001,2024-03-05 14:12:01 +0100,FR,A,1,1.00\n"
                   "#1001,,,B,2,2.00\n"
                   "#1002,,DE,C,1,3.00\n"      # a new order whose first row lacks a date: stays blank
                   "#1002,,  ,D,1,4.00\n"      # ... and its continuation has nothing to inherit
                   "#1003,2024-03-07 10:00:00 +0100,,E,1,5.00\n", encoding="utf-8")
    layout = Layout("csv", columns={"invoice_no": "Name", "invoice_date": "Created at", "country": "Shipping Country",
                                    "stock_code": "Lineitem sku", "quantity": "Lineitem quantity",
                                    "unit_price": "Lineitem price"},
                    fill_down=("invoice_date", "country"), fill_down_by="invoice_no")
    _, rows = bronze_of(tmp_path, raw, "order_lines", layout)
    assert [(r["invoice_no"], r["invoice_date"], r["country"]) for r in rows] == [
        ("#1001", "2024-03-05 14:12:01 +0100", "FR"), ("#1001", "2024-03-05 14:12:01 +0100", "FR"),
        ("#1002", None, "DE"), ("#1002", None, "DE"), ("#1003", "2024-03-07 10:00:00 +0100", None)]


def test_fill_down_carries_across_chunks() -> None:
    fill = FillDown(("country",), "invoice_no")
    first = fill.apply({"invoice_no": pa.array(["1", "1", "2"]), "country": pa.array(["FR", None, "DE"])})
    second = fill.apply({"invoice_no": pa.array(["2", "2", "3"]), "country": pa.array(["", None, None])})
    assert first["country"].to_pylist() == ["FR", "FR", "DE"]
    assert second["country"].to_pylist() == ["DE", "DE", None]


# -- dates and time zones --------------------------------------------------------------------
def test_iso_dates_render_in_the_format_and_offsets_convert_to_the_shop_zone() -> None:
    values = pa.array(["2011-03-04T09:05:00", "2011-03-04 09:05", "2011-03-04T09:05:00+01:00", "2011-03-04T23:30Z",
                       "3/4/2011 9:05", "not a date", None])
    assert render_iso_dates(values, "%-m/%-d/%Y %-H:%M", "Europe/London").to_pylist() == [
        "3/4/2011 9:05", "3/4/2011 9:05", "3/4/2011 8:05", "3/4/2011 23:30", "3/4/2011 9:05", "not a date", None]
    assert render_iso_dates(values, "%-m/%-d/%Y %-H:%M", "Asia/Tokyo").to_pylist()[3] == "3/5/2011 8:30"


def test_typed_extract_timestamps_are_text_in_the_shop_zone() -> None:
    aware = pa.array([datetime(2024, 3, 31, 23, 30, tzinfo=UTC)], pa.timestamp("us", tz="UTC"))
    naive = pa.array([datetime(2024, 3, 31, 23, 30)], pa.timestamp("us"))
    assert as_text(aware, "UTC").to_pylist() == ["2024-03-31 23:30:00.000000"]
    assert as_text(aware, "Europe/Paris").to_pylist() == ["2024-04-01 01:30:00.000000"]
    assert as_text(naive, "Europe/Paris").to_pylist() == ["2024-03-31 23:30:00.000000"]  # naive: already local


def test_per_source_date_format_and_the_shop_zone_reach_the_settings_table(project: Project) -> None:
    project = configure(project, """
[sources.shop]
kind = "files"
path = "landing/shop"

[sources.shop.csv]
date_format = "%Y-%m-%d %H:%M:%S %z"

[sources.sales]
kind = "files"
entity = "sales"
path = "landing/sales"

[sources.rates]
kind = "files"
entity = "exchange_rates"
path = "landing/rates"

[sources.rates.csv]
date_format = "%d.%m.%Y"
""")
    text = (project.root / "cartflow.toml").read_text().replace('name = "shop"', 'name = "shop"\ntimezone = "Europe/Paris"')
    (project.root / "cartflow.toml").write_text(text)
    table = source_settings(load_project(project.root))
    assert table.schema == SETTINGS_SCHEMA
    rows = {r["source"]: r for r in table.to_pylist()}
    assert rows["online_retail"]["date_format"] == "%-m/%-d/%Y %-H:%M"  # order lines: the Online Retail default
    assert rows["shop"]["date_format"] == "%Y-%m-%d %H:%M:%S %z"
    assert rows["sales"]["date_format"] is None  # other entities: only a declared format; else ISO and day rules
    assert rows["rates"]["date_format"] == "%d.%m.%Y"
    assert rows["storefront"]["kind"] == "stream" and rows["storefront"]["date_format"] == "%-m/%-d/%Y %-H:%M"
    assert {r["timezone"] for r in rows.values()} == {"Europe/Paris"}


# -- through extract and the pipeline's bronze stage -------------------------------------------
def test_a_mapped_source_runs_through_extract_and_bronze_and_a_file_without_the_column_is_rejected(
        project: Project) -> None:
    from cartflow.pipeline.dlq import provider
    from cartflow.pipeline.standardize import to_bronze as stage

    mapping = "\n".join(f'{k} = "{v}"' for k, v in SHOP_MAPPING.items())
    project = configure(project, f"""
[sources.shop]
kind = "files"
path = "drops/shop"
inbox = false
settle_seconds = 0

[sources.shop.csv]
encoding = "utf-8"

[sources.shop.columns]
{mapping}
""")
    drops = project.root / "drops" / "shop"
    drops.mkdir(parents=True)
    (drops / "a.csv").write_text(SHOP_CSV, encoding="utf-8")
    # the export changed its header: that file is rejected with its reason, the other goes on
    (drops / "b.csv").write_text(SHOP_CSV.replace("product_title", "title").replace("1001", "1003"),
                                 encoding="utf-8")
    storage, state = open_lake(project), open_state(project)
    try:
        assert extract(project, storage, state, QuietReporter(), "shop", project.config.sources["shop"], "r1") == 1
        outcome = stage(project, storage, state, QuietReporter())
        assert not outcome.failed and not outcome.rejected and len(outcome.converted) == 1
        rows = pq.read_table(storage.uri(outcome.converted[0].bronze_key)).to_pylist()
        assert [r["invoice_no"] for r in rows] == ["1001", "1002"] and rows[0]["_source_file"] == "a.csv"
    finally:
        state.close()
    (item,) = provider("files").list(project)
    assert item.reason == "missing_column"
    assert "shop: b.csv: row 1 (header): missing column 'product_title' (mapped to description)" in item.summary
