"""The raw sink: Firehose-style batches in the raw zone, exactly once across crashes and retries."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cartflow.config import Project, StreamSection
from cartflow.lake.bronze import bronze_schema, layout_for, to_bronze
from cartflow.lake.storage import LocalStorage
from cartflow.runtime.state import SqliteState
from cartflow.stream.deadletter import open_dead_letters
from cartflow.stream.raw_sink import RawSink
from cartflow.stream.records import parse_records, split_body
from cartflow.stream.sqlite_log import SqliteLog
from conftest import write_csv
from stream_fixtures import order_lines, to_csv_lines


class Crash(Exception):
    pass


@pytest.fixture
def parts(project: Project, request: pytest.FixtureRequest):
    """(log, storage, state); state is SQLite unless the test asks for "postgres" (shared-lake mode)."""
    log = SqliteLog(project.root / ".cartflow" / "events.db", partitions=3)
    storage = LocalStorage(project.lake_uri)
    if getattr(request, "param", "sqlite") == "postgres":
        from cartflow.runtime.pg_state import PostgresState

        state = PostgresState(request.getfixturevalue("pg_dsn"), schema=request.getfixturevalue("pg_schema"))
    else:
        state = SqliteState(project.state_path)
    yield log, storage, state
    state.close()
    log.close()


def make_sink(parts, project: Project, rows: int = 10_000, seconds: float = 60.0) -> RawSink:
    log, storage, state = parts
    return RawSink(log, storage, state, project.root / ".cartflow" / "raw-sink.db", source="storefront",
                   topic="cartflow.order-lines", flush_rows=rows, flush_seconds=seconds, dedupe_seconds=3600,
                   dead_letters=open_dead_letters(project))


def append(log: SqliteLog, records: list[dict]) -> list[str]:
    parsed = parse_records(split_body(json.dumps(records).encode(), "application/json"))
    log.append(parsed.events)
    return [e.event_id for e in parsed.events]


def pump(sink: RawSink, consumer, seconds: float = 0.5) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        events = consumer.poll(sink.max_records, 0.02)
        if events:
            sink.handle(consumer, events)
        sink.tick(consumer)


def subscribe(sink: RawSink, log: SqliteLog):
    consumer = log.consumer("raw")
    consumer.on_assignment(lambda ps: sink.assigned(consumer, ps), lambda ps: sink.revoked(consumer, ps))
    return consumer


def landed(state: SqliteState, storage: LocalStorage) -> tuple[list, Counter]:
    manifests = [m for m in state.manifests() if m.source == "storefront"]
    ids: Counter = Counter()
    for m in manifests:
        for line in storage.read_bytes(m.raw_key).splitlines():
            ids[json.loads(line)["event_id"]] += 1
    return manifests, ids


def test_flushes_by_size_and_by_time_into_named_offset_ranges(parts, project: Project) -> None:
    log, storage, state = parts
    sink = make_sink(parts, project, rows=25, seconds=0.3)
    consumer = subscribe(sink, log)
    ids = append(log, order_lines(30))
    pump(sink, consumer, 0.1)
    manifests, _ = landed(state, storage)
    assert manifests and sink.buffered() < 25  # the size threshold flushed without waiting
    pump(sink, consumer, 0.6)
    manifests, counted = landed(state, storage)
    assert sink.buffered() == 0 and counted == Counter({i: 1 for i in ids})
    for m in manifests:
        assert m.raw_key.startswith("raw/storefront/order_lines/ingest_date=") and m.raw_key.endswith(".ndjson")
        assert re.fullmatch(r"cartflow\.order-lines\.p[0-2]\.\d{12}-\d{12}\.ndjson", m.source_file)
        assert m.rows == len(storage.read_bytes(m.raw_key).splitlines()) and m.status == "landed"
    values = {e.event_id: e.value for p in range(3) for e in log.read_range(p, 0, 100)}
    for m in manifests:  # the bytes exactly as the API accepted them
        for line in storage.read_bytes(m.raw_key).splitlines():
            assert values[json.loads(line)["event_id"]] == line
    assert sum(consumer.lag().values()) == 0
    consumer.close()


def test_a_retried_post_lands_once(parts, project: Project) -> None:
    log, storage, state = parts
    records = order_lines(12)
    ids = append(log, records)
    append(log, records[4:])  # the client retried after a lost answer
    sink = make_sink(parts, project, rows=5)
    consumer = subscribe(sink, log)
    pump(sink, consumer, 0.3)
    sink.close(consumer)
    _, counted = landed(state, storage)
    assert counted == Counter({i: 1 for i in ids})
    consumer.close()


def test_events_no_file_can_hold_are_dead_lettered_and_the_rest_lands(parts, project: Project) -> None:
    """Not UTF-8, a line break inside, empty, an event id reused with other content: dead letter, not a stall."""
    from cartflow.stream.log import OutgoingEvent

    log, storage, state = parts
    ids = append(log, order_lines(6))
    first = json.dumps({"event_id": "dup-1", **order_lines(1, seed=8)[0]}).encode()
    other = json.dumps({"event_id": "dup-1", **order_lines(1, seed=9)[0]}).encode()
    bad = [OutgoingEvent(b"k1", b'{"event_id": "x1", "Description": "\xff\xfe"}', "x1"),
           OutgoingEvent(b"k2", b'{"event_id": "x2",\n "InvoiceNo": "1"}', "x2"),
           OutgoingEvent(b"k3", b"  \n", "x3"),
           OutgoingEvent(b"k4", first, "dup-1"), OutgoingEvent(b"k4", first, "dup-1"),
           OutgoingEvent(b"k4", other, "dup-1")]
    log.append(bad)
    ids += append(log, order_lines(12)[6:])
    sink = make_sink(parts, project, rows=4)
    consumer = subscribe(sink, log)
    pump(sink, consumer, 0.5)
    sink.close(consumer)
    _, counted = landed(state, storage)
    assert counted == Counter({**{i: 1 for i in ids}, "dup-1": 1})
    dup = [line for m in state.manifests() for line in storage.read_bytes(m.raw_key).splitlines() if b"dup-1" in line]
    assert dup == [first]  # the first content keeps the id
    letters = {d.record: d for d in open_dead_letters(project).list(limit=100)}
    assert {d.origin for d in letters.values()} == {"raw-sink"}
    assert sorted(d.reason for d in letters.values()) == ["event_id_conflict"] + ["unwritable_event"] * 3
    assert letters[other.decode()].reason == "event_id_conflict"
    assert "not UTF-8" in letters['{"event_id": "x1", "Description": "\\xff\\xfe"}'].errors[0]["message"]
    assert sum(consumer.lag().values()) == 0  # the offsets moved past every event
    consumer.close()


@pytest.mark.parametrize("parts", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("crash_in", ["land", "commit"])
def test_a_crash_mid_flush_is_replayed_to_the_same_file(parts, project: Project, monkeypatch,
                                                        crash_in: str) -> None:
    log, storage, state = parts
    ids = append(log, order_lines(40))
    sink = make_sink(parts, project, rows=1_000)
    consumer = subscribe(sink, log)
    pump(sink, consumer, 0.2)
    import cartflow.stream.raw_sink as raw_sink_module

    if crash_in == "land":
        monkeypatch.setattr(raw_sink_module, "land_bytes", lambda *a, **k: (_ for _ in ()).throw(Crash()))
    else:
        monkeypatch.setattr(consumer, "commit", lambda offsets: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        sink.close(consumer)
    monkeypatch.undo()
    sink.reset()
    consumer.close()  # what the runner does after a failure

    ids += append(log, order_lines(60)[40:])  # more events arrive while it is down: other flush boundaries
    restarted = make_sink(parts, project, rows=7)
    consumer = subscribe(restarted, log)
    pump(restarted, consumer, 0.5)
    restarted.close(consumer)
    manifests, counted = landed(state, storage)
    assert counted == Counter({i: 1 for i in ids})
    assert len({m.batch_id for m in manifests}) == len(manifests)
    assert not storage.list("raw/storefront/order_lines")[0].endswith(".tmp")
    consumer.close()


def test_ndjson_batches_become_bronze_with_the_csv_schema_plus_event_id(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "lake")
    good = parse_records(split_body(json.dumps([
        {**order_lines(1)[0], "InvoiceDate": "2011-03-04T09:05:00"},
        {**order_lines(2)[1], "CustomerID": None, "Description": "CAFÉ £ MUG"}]).encode(), "")).events
    data = b"\n".join(e.value for e in good) + b"\n" + b"{not json\n"
    storage.write_bytes("raw/storefront/order_lines/x.ndjson", data)
    stream = StreamSection(invoice_date_format="%-m/%-d/%Y %-H:%M")
    result = to_bronze(storage, "raw/storefront/order_lines/x.ndjson", source="storefront",
                       entity="order_lines", batch_id="b1", source_file="t.p0.000000000000-000000000001.ndjson",
                       ingested_at=datetime(2024, 1, 1), layout=layout_for(stream, "x.ndjson"))
    assert result.rows == 3 and result.malformed_rows == 1
    table = pq.read_table(storage.uri(result.key))
    assert table.schema == bronze_schema("order_lines")  # the CSV converter's schema: one glob reads both
    assert table.column_names == ["invoice_no", "stock_code", "description", "quantity", "invoice_date",
                                  "unit_price", "customer_id", "country", "event_id", "_source", "_batch_id",
                                  "_source_file", "_source_row", "_ingested_at", "_error"]
    rows = table.to_pylist()
    assert rows[0]["invoice_date"] == "3/4/2011 9:05"  # ISO rendered in the format silver parses
    assert rows[0]["quantity"] == str(order_lines(1)[0]["Quantity"]) and rows[0]["event_id"] == good[0].event_id
    assert rows[1]["customer_id"] is None and rows[1]["description"] == "CAFÉ £ MUG"
    assert rows[2]["_error"].startswith("malformed record") and rows[2]["invoice_no"] is None
    assert [r["_source_row"] for r in rows] == [1, 2, 3]


def test_hostile_ndjson_lines_become_malformed_bronze_rows_not_a_failed_batch(tmp_path: Path) -> None:
    """Lines a producer other than the API could write: each is kept as a malformed row, the good one converts."""
    storage = LocalStorage(tmp_path / "lake")
    good = parse_records(split_body(json.dumps(order_lines(1)).encode(), "")).events[0].value
    hostile = [b"[" * 50_000 + b"]" * 50_000, b'{"Quantity": ' + b"9" * 5_000 + b"}",
               b'{"InvoiceNo": "1", "Description": "\\ud800"}']
    storage.write_bytes("raw/s/order_lines/h.ndjson", b"\n".join([good, *hostile]) + b"\n")
    result = to_bronze(storage, "raw/s/order_lines/h.ndjson", source="storefront", entity="order_lines",
                       batch_id="h1", source_file="h.ndjson", ingested_at=datetime(2024, 1, 1),
                       layout=layout_for(StreamSection(), "h.ndjson"))
    assert result.rows == 4 and result.malformed_rows == 3
    rows = pq.read_table(storage.uri(result.key)).to_pylist()
    assert rows[0]["_error"] is None and all(r["_error"].startswith("malformed record") for r in rows[1:])


@pytest.mark.slow
def test_the_next_run_standardizes_stream_batches(parts, project: Project, landing: Path) -> None:
    from cartflow.pipeline.run import run_pipeline

    log, storage, state = parts
    write_csv(landing / "retail.csv", to_csv_lines(order_lines(10, seed=99)))  # CSV and stream bronze side by side
    records = order_lines(40)
    records[3]["UnitPrice"] = "0"  # a zero-price sale: accepted by the API, quarantined by silver
    append(log, records)
    sink = make_sink(parts, project, rows=15)
    consumer = subscribe(sink, log)
    pump(sink, consumer, 0.3)
    sink.close(consumer)
    consumer.close()
    result = run_pipeline(project)
    assert result.status == "succeeded", result.error
    assert result.layer_rows["raw"] == 50
    assert result.layer_rows["silver"] + result.layer_rows["quarantine"] == 50
    assert result.quarantine.get("non_positive_price_sale") == 1
    assert {m.status for m in state.manifests() if m.source == "storefront"} == {"transformed"}
