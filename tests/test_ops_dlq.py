"""`cartflow dlq list|show|replay`: the provider interface, stream dead letters, quarantine listing."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cartflow.cli import app
from cartflow.config import Project
from cartflow.pipeline.dlq import DlqItem, ReplayResult, provider, providers, register
from cartflow.runtime.logs import reset_logging
from cartflow.stream.deadletter import open_dead_letters
from cartflow.stream.log import open_log

GOOD = {"InvoiceNo": "536365", "StockCode": "85123A", "Description": "WHITE HANGING HEART", "Quantity": 6,
        "InvoiceDate": "12/1/2010 8:26", "UnitPrice": "2.55", "CustomerID": 17850, "Country": "United Kingdom"}
BAD = {**GOOD, "InvoiceNo": "536366", "Quantity": "six"}


@pytest.fixture(autouse=True)
def _logs():
    yield
    reset_logging()


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def all_events(project: Project) -> list[dict]:
    log = open_log(project)
    try:
        return [json.loads(e.value) for p in range(log.partitions) for e in log.read_range(p, 0, 1_000)]
    finally:
        log.close()


def test_stream_dead_letters_replay_once(project: Project) -> None:
    letters = open_dead_letters(project)
    # the record that failed before a fix (say, a date format the API did not accept then) now validates
    letters.add([("invalid:InvoiceDate", [{"field": "InvoiceDate", "message": "not a date"}], json.dumps(GOOD)),
                 ("invalid:Quantity", [{"field": "Quantity", "message": "must be a whole number"}], json.dumps(BAD))],
                origin="api")
    letters.close()
    stream = provider("stream")
    items = {i.reason: i for i in stream.list(project)}
    assert set(items) == {"invalid:InvoiceDate", "invalid:Quantity"}
    assert all(i.status == "pending" for i in items.values())
    shown = stream.show(project, items["invalid:Quantity"].id[:10])
    assert shown and json.loads(shown.detail["record"])["Quantity"] == "six"

    dry = stream.replay(project, None, dry_run=True)
    assert (dry.replayed, dry.failed) == (1, 1) and all_events(project) == []
    first = stream.replay(project, None)
    assert (first.selected, first.replayed, first.failed, first.skipped) == (2, 1, 1, 0)
    events = all_events(project)
    assert [e["InvoiceNo"] for e in events] == ["536365"] and events[0]["event_id"].startswith("ol-")

    again = stream.replay(project, None)  # idempotent: the replayed record is not appended twice
    assert (again.replayed, again.skipped) == (0, 1) and len(all_events(project)) == 1
    statuses = {i.reason: i.status for i in stream.list(project)}
    assert statuses == {"invalid:InvoiceDate": "replayed", "invalid:Quantity": "rejected_again"}


def publish_quarantine(project: Project, rows: list[dict]) -> None:
    columns = ["_batch_id", "_source_row", "reason", "field", "raw_value", "invoice_no", "stock_code", "description",
               "quantity", "invoice_date", "unit_price", "customer_id", "country", "_source_file", "_ingested_at",
               "entity"]
    table = pa.table({c: [r.get(c) for r in rows] for c in columns})
    path = Path(project.lake_uri) / "marts" / "quarantine_order_lines" / "data.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)


def test_quarantine_list_and_show_read_the_published_table(project: Project) -> None:
    assert provider("quarantine").counts(project) == {}  # nothing published yet: empty, not an error
    base = {"entity": "order_lines", "invoice_no": "536367", "stock_code": "X", "description": "bad",
            "invoice_date": "12/1/2010 8:28", "unit_price": "1.85", "customer_id": "13047",
            "country": "United Kingdom", "_source_file": "day1.csv", "_ingested_at": "2026-01-02 03:04:05"}
    publish_quarantine(project, [
        {**base, "_batch_id": "a" * 32, "_source_row": 3, "reason": "unparseable:quantity", "field": "quantity",
         "raw_value": "abc", "quantity": "abc"},
        {**base, "_batch_id": "a" * 32, "_source_row": 7, "reason": "zero_quantity", "field": "quantity",
         "raw_value": "0", "quantity": "0"},
    ])
    q = provider("quarantine")
    assert q.counts(project) == {"unparseable:quantity": 1, "zero_quantity": 1}
    assert [i.id for i in q.list(project, reason="zero")] == ["a" * 32 + ":7"]
    item = q.show(project, "aaaaaaaa:3")  # a batch-id prefix is enough
    assert item.reason == "unparseable:quantity" and item.detail["raw_value"] == "abc"
    out = cli("dlq", "list", "quarantine", "-p", str(project.root))
    assert "unparseable:quantity" in out and "zero_quantity" in out
    shown = json.loads(cli("dlq", "show", "quarantine", "aaaaaaaa:7", "-p", str(project.root)))
    assert shown["id"] == "a" * 32 + ":7" and shown["status"] == "pending"
    dry = cli("dlq", "replay", "quarantine", "--reason", "zero", "--dry-run", "-p", str(project.root))
    assert "1 row(s) in 1 batch(es)" in dry and "(dry run)" in dry


def test_the_provider_interface_takes_new_queues(project: Project) -> None:
    class Parcels:
        name, description = "parcels", "a queue from another subsystem"

        def counts(self, project):
            return {"lost": 1}

        def list(self, project, *, limit=50, reason=None):
            return [DlqItem("parcels", "p1", "lost", "courier", None, "parcel p1")]

        def show(self, project, item_id):
            return self.list(project)[0] if item_id == "p1" else None

        def replay(self, project, ids, *, reason=None, dry_run=False):
            return ReplayResult("parcels", selected=1, replayed=1)

    register("parcels", Parcels)
    assert {"quarantine", "stream", "parcels"} <= set(providers())
    assert "parcels: 1 item(s)" in cli("dlq", "list", "-p", str(project.root))
    assert "1 replayed" in cli("dlq", "replay", "parcels", "p1", "-p", str(project.root))
    refused = CliRunner().invoke(app, ["dlq", "replay", "parcels", "-p", str(project.root)])
    assert refused.exit_code == 2 and "--all" in refused.output
    unknown = CliRunner().invoke(app, ["dlq", "list", "nope", "-p", str(project.root)])
    assert unknown.exit_code == 2 and "available are" in unknown.output


@pytest.mark.slow
def test_rejected_files_replay_after_a_fix(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    import cartflow.pipeline.run as run_mod
    from cartflow.pipeline.run import run_pipeline
    from cartflow.pipeline.standardize import ModelsOutcome
    from cartflow.runtime.backends import open_state

    monkeypatch.setattr(run_mod, "run_models", lambda *a, **k: ModelsOutcome([], ran=False))  # about the inbox, not SQLMesh
    inbox = Path(project.lake_uri) / "landing" / "online_retail"
    inbox.mkdir(parents=True)
    (inbox / "day1.csv").write_bytes(b"")  # an export that went wrong
    run_pipeline(project)
    files = provider("files")
    [item] = files.list(project)
    assert (item.id, item.reason, item.status) == ("online_retail/day1.csv", "empty_file", "pending")
    assert files.show(project, "online_retail/day1").detail["run_id"]  # a prefix is enough

    rejected = inbox / "rejected" / "day1.csv"
    rejected.write_bytes(b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n"
                         b"536365,85123A,X,6,12/1/2010 8:26,2.55,17850,United Kingdom\r\n")  # fixed in place
    done = files.replay(project, [item.id])
    assert done.replayed == 1 and (inbox / "day1.csv").exists() and not rejected.exists()
    assert files.list(project) == []
    with pytest.raises(Exception, match="no rejected file"):
        files.replay(project, [item.id])  # idempotent: it is not in the queue any more
    run_pipeline(project)
    state = open_state(project)
    try:
        assert [m.source_file for m in state.manifests()] == ["day1.csv"]  # taken once, by the next run
    finally:
        state.close()


def test_consumer_dead_letters_replay_into_the_serving_store_once(project: Project) -> None:
    from cartflow.serving.store import open_store
    from cartflow.stream.records import to_event, validate

    values, errors = validate(GOOD)
    assert errors == []
    event = to_event(values).value.decode()  # an event the serving sink could not read (say, a bug since fixed)
    letters = open_dead_letters(project)
    letters.add([("unreadable_event", [{"field": None, "message": "not an order line"}], event),
                 ("unreadable_event", [{"field": None, "message": "not an order line"}], '{"not": "a line"}')],
                origin="serving-sink")
    letters.close()
    stream = provider("stream")
    first = stream.replay(project, None, reason="unreadable")
    assert (first.replayed, first.failed) == (1, 1)
    assert all_events(project) == []  # not appended to the log: it is there already
    store = open_store(project)
    try:
        invoice = store.invoice("536365")
    finally:
        store.close()
    assert invoice is not None
    assert stream.replay(project, None).skipped == 1


def test_an_event_id_conflict_is_not_replayed_over_the_line_that_keeps_the_id(project: Project) -> None:
    import json

    from cartflow.serving.store import open_store
    from cartflow.stream.records import to_event, validate

    values, _ = validate({**GOOD, "event_id": "shop-1:1"})
    store = open_store(project)
    try:
        from cartflow.stream.serving_sink import line_from_event

        store.upsert([line_from_event(to_event(values).value, currency="GBP", source="storefront")])
    finally:
        store.close()
    moved = to_event({**values, "InvoiceNo": "536999"}).value.decode()
    letters = open_dead_letters(project)
    letters.add([("event_id_conflict", [{"field": None, "message": "first accepted with other content"}], moved)],
                origin="serving-sink")
    letters.close()
    result = provider("stream").replay(project, None)
    assert (result.replayed, result.failed) == (0, 1)
    store = open_store(project)
    try:
        assert store.invoice("536999") is None and store.invoice("536365") is not None
    finally:
        store.close()
    assert json.loads(moved)["event_id"] == "shop-1:1"
