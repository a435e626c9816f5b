"""The `files` source: JSON arrays, NDJSON, both Online Retail headers, and the landing inbox."""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow.parquet as pq
import pytest

from cartflow.config import Project, load_project
from cartflow.lake.bronze import layout_for, to_bronze
from cartflow.lake.storage import open_lake, open_storage
from cartflow.pipeline.dlq import provider
from cartflow.runtime.backends import open_state
from cartflow.runtime.progress import QuietReporter
from cartflow.sandbox.multi_generator import seed_path
from cartflow.sources import extract
from cartflow.sources.files import take_inbox
from conftest import write_csv
from conftest_s3 import KEY_ENV, SECRET_ENV

II_HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"


def configure(project: Project, extra: str) -> Project:
    path = project.root / "cartflow.toml"
    path.write_text(path.read_text() + extra)
    return load_project(project.root)


def run_extract(project: Project, name: str) -> int:
    state = open_state(project)
    try:
        return extract(project, open_lake(project), state, QuietReporter(), name, project.config.sources[name], "r")
    finally:
        state.close()


def bronze_rows(project: Project, name: str) -> list[dict]:
    storage, state = open_lake(project), open_state(project)
    try:
        out = []
        for m in state.manifests():
            if m.source != name:
                continue
            source = project.config.sources[name]
            result = to_bronze(storage, m.raw_key, source=name, entity=m.entity, batch_id=m.batch_id,
                               source_file=m.source_file, ingested_at=datetime.now(),
                               layout=layout_for(source, m.raw_key))
            out += pq.read_table(storage.uri(result.key)).to_pylist()
        return out
    finally:
        state.close()


def test_a_json_array_and_ndjson_become_bronze_with_values_as_received(project: Project) -> None:
    project = configure(project, """
[sources.customers]
kind = "files"
entity = "customers"
format = "json"
path = "drops/customers"

[sources.events]
kind = "files"
entity = "customers"
format = "ndjson"
path = "drops/events"
""")
    (project.root / "drops" / "customers").mkdir(parents=True)
    (project.root / "drops" / "events").mkdir(parents=True)
    (project.root / "drops" / "customers" / "customer_data.json").write_bytes(
        (seed_path() / "customer_data.json").read_bytes())
    (project.root / "drops" / "events" / "c.ndjson").write_text(
        '{"customer_id": "C9", "name": "Ann", "age": 41.0, "city": "Leeds"}\n\nnot json\n[1, 2]\n')
    assert run_extract(project, "customers") == 1 and run_extract(project, "events") == 1
    rows = bronze_rows(project, "customers")
    assert len(rows) == 1000 and rows[0]["customer_id"] == "1" and rows[0]["age"] == "95"
    assert rows[0]["gender"] == "" and rows[0]["location"] == "Unknown" and rows[0]["_source"] == "customers"
    assert sum(r["age"] is None for r in rows) == 46  # nulls stay NULL, not "None" and not 0
    events = bronze_rows(project, "events")
    first = events[0]
    assert (first["_source_row"], first["customer_id"], first["age"], first["location"]) == (1, "C9", "41.0", "Leeds")
    assert [e["_source_row"] for e in events] == [1, 3, 4]  # line numbers; the blank line is no record
    assert events[1]["_error"].startswith("malformed record: not valid JSON")
    assert "not a JSON object" in events[2]["_error"]


def test_online_retail_ii_headers_and_json_order_lines_reach_order_line_bronze(project: Project) -> None:
    project = configure(project, """
[sources.ii]
kind = "files"
path = "drops/ii"

[sources.json_lines]
kind = "files"
format = "json"
records_path = "data.lines"
path = "drops/json"
""")
    write_csv(project.root / "drops" / "ii" / "2011.csv",
              ["489434,85048,CHRISTMAS LIGHTS,12,12/1/2010 7:45,6.95,13085,United Kingdom"], header=II_HEADER)
    (project.root / "drops" / "json").mkdir(parents=True)
    (project.root / "drops" / "json" / "page.json").write_text(json.dumps({"data": {"lines": [
        {"InvoiceNo": "536365", "StockCode": "85123A", "Description": "WHITE HANGING HEART", "Quantity": 6,
         "InvoiceDate": "12/1/2010 8:26", "UnitPrice": 2.55, "CustomerID": 17850, "Country": "United Kingdom"}]}}))
    assert run_extract(project, "ii") == 1 and run_extract(project, "json_lines") == 1
    from cartflow.pipeline.standardize import to_bronze

    storage, state = open_lake(project), open_state(project)
    try:
        outcome = to_bronze(project, storage, state, QuietReporter())
    finally:
        state.close()
    assert not outcome.failed and len(outcome.converted) == 2
    rows = pq.read_table(storage.uri("bronze/order_lines")).to_pylist()
    assert {(r["invoice_no"], r["unit_price"], r["customer_id"]) for r in rows} == {("489434", "6.95", "13085"),
                                                                                     ("536365", "2.55", "17850")}


def test_the_landing_inbox_takes_each_file_once_and_rejects_with_a_reason(project: Project) -> None:
    project = configure(project, """
[sources.sales]
kind = "files"
entity = "sales"
path = "landing/sales"
""")
    (project.root / "landing" / "sales").mkdir(parents=True)
    storage = open_lake(project)
    storage.write_bytes("landing/sales/sales_data.csv", (seed_path() / "sales_data.csv").read_bytes())
    storage.write_bytes("landing/sales/empty.csv", b"")
    storage.write_bytes("landing/sales/wrong.csv", b"id_of_nothing,qty\n1,2\n")
    storage.write_bytes("landing/sales/report.xlsx", b"PK\x03\x04")
    assert run_extract(project, "sales") == 1
    assert storage.list("landing/sales/processed")[0].endswith("/sales_data.csv")
    rejected = sorted(k.rsplit("/", 1)[-1] for k in storage.list("landing/sales/rejected"))
    assert rejected == ["empty.csv", "empty.csv.reason.json", "report.xlsx", "report.xlsx.reason.json",
                        "wrong.csv", "wrong.csv.reason.json"]
    reason = json.loads(storage.read_bytes("landing/sales/rejected/wrong.csv.reason.json"))
    assert reason["code"] == "missing_column" and "transaction_id" in reason["reason"] and reason["file"] == "wrong.csv"
    # taken exactly once: the inbox is empty now, and the same content dropped again is not landed twice
    assert run_extract(project, "sales") == 0
    storage.write_bytes("landing/sales/again.csv", (seed_path() / "sales_data.csv").read_bytes())
    assert run_extract(project, "sales") == 0 and len(storage.list("landing/sales/processed")) == 2
    # the dead-letter queue lists the rejected files and replays them into the inbox
    dlq = provider("files")
    assert dlq.counts(project) == {"missing_column": 1, "empty_file": 1, "wrong_extension": 1}
    item = dlq.show(project, "sales/wrong.csv")
    assert item is not None and item.reason == "missing_column"
    storage.write_bytes("landing/sales/rejected/wrong.csv",
                        b"Transaction_ID,Product_ID,Quantity,Price,Transaction_Date\n9001,1,2,3.50,2022-01-03\n")
    result = dlq.replay(project, ["sales/wrong.csv"])
    assert result.replayed == 1 and storage.exists("landing/sales/wrong.csv")
    assert run_extract(project, "sales") == 1
    assert [i.id for i in dlq.list(project)] and "sales/wrong.csv" not in [i.id for i in dlq.list(project)]


@pytest.mark.slow
def test_the_inbox_works_on_an_s3_lake(project: Project, s3_server, s3_root, s3_env) -> None:
    storage = open_storage(s3_root, endpoint=s3_server.endpoint, region=s3_server.region,
                           access_key_env=KEY_ENV, secret_key_env=SECRET_ENV)
    state = open_state(project)
    source = configure(project, """
[sources.rates]
kind = "files"
entity = "exchange_rates"
format = "json"
path = "landing"
rate_base = "USD"
""").config.sources["rates"]
    try:
        storage.write_bytes("landing/rates/exchange_rates.json", (seed_path() / "exchange_rates.json").read_bytes())
        storage.write_bytes("landing/rates/broken.json", b"[{\"Currency_Code\": ")
        outcome = take_inbox(storage, state, "rates", source, "r1")
        assert (outcome.taken, outcome.landed) == (2, 1) and list(outcome.rejected) == ["broken.json"]
        assert storage.list("landing/rates/rejected") == ["landing/rates/rejected/broken.json",
                                                          "landing/rates/rejected/broken.json.reason.json"]
        assert take_inbox(storage, state, "rates", source, "r2").taken == 0
        (m,) = state.manifests()
        assert storage.read_bytes(m.raw_key) == (seed_path() / "exchange_rates.json").read_bytes()
    finally:
        state.close()


@pytest.mark.parametrize("name,body,code", [
    ("a.json", b"{\"not\": \"a list\"}", "unreadable"),
    ("b.ndjson", b"{oops\n", "unreadable"),
])
def test_unreadable_json_is_rejected_not_landed(project: Project, name: str, body: bytes, code: str) -> None:
    fmt = "json" if name.endswith(".json") else "ndjson"
    project = configure(project, f"""
[sources.c]
kind = "files"
entity = "customers"
format = "{fmt}"
path = "landing/online_retail"
""")
    storage = open_lake(project)
    storage.write_bytes(f"landing/c/{name}", body)
    assert run_extract(project, "c") == 0
    meta = json.loads(storage.read_bytes(f"landing/c/rejected/{name}.reason.json"))
    assert meta["code"] == code and name in meta["reason"]
