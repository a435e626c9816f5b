"""No event stalls a consumer: poison values go to the dead letter, store outages are retried, lag tells the truth.

The events are appended to the log directly, as a producer that bypasses the API would,
so the sinks are tested against any value, not only against what the API lets through.
Real log (SQLite, and Kafka on Tansu), real stores (SQLite, PostgreSQL).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
from prometheus_client import REGISTRY

from cartflow.config import Project
from cartflow.serving.postgres_store import PostgresStore
from cartflow.serving.sqlite_store import SqliteStore
from cartflow.serving.store import ServingStore
from cartflow.stream.deadletter import DeadLetterLog
from cartflow.stream.log import EventLog, OutgoingEvent
from cartflow.stream.service import StreamServices
from cartflow.stream.sqlite_log import SqliteLog
from stream_fixtures import wait_until

GOOD = {"InvoiceNo": "536365", "StockCode": "85123A", "Description": "WHITE HANGING HEART", "Quantity": "6",
        "InvoiceDate": "12/1/2010 8:26", "UnitPrice": "2.55", "CustomerID": "17850", "Country": "United Kingdom"}


def event(event_id: str | None = None, raw: bytes | None = None, **values: Any) -> OutgoingEvent:
    """An event as a producer would write it; `raw` replaces the JSON value altogether."""
    body = {"event_id": event_id or f"ev-{uuid.uuid4().hex[:12]}", **{**GOOD, **values}}
    value = raw if raw is not None else json.dumps(body, separators=(",", ":")).encode()
    return OutgoingEvent(key=str(body["InvoiceNo"]).encode(), value=value, event_id=str(body["event_id"]))


def poison(store_backend: str) -> list[tuple[OutgoingEvent, str]]:
    """(event, expected dead-letter reason): values no order line or no store column can hold."""
    cases = [
        (event(InvoiceNo="P1", Quantity="10000000000000000000"), "unwritable_event"),  # 10^19 > int64
        (event(InvoiceNo="P2", UnitPrice="10000000000000000"), "unwritable_event"),  # amount > DECIMAL(18,3)
        (event(InvoiceNo="P3", UnitPrice="1E+25"), "unreadable_event"),  # amount beyond Decimal's precision
        (event(raw=b"not json at all"), "unreadable_event"),
        (event(raw=b"[1, 2, 3]"), "unreadable_event"),
        (event(raw=b"[" * 50_000 + b"]" * 50_000), "unreadable_event"),
        (event(raw=b'{"event_id": 7, "InvoiceNo": "P4", "StockCode": "X", "Quantity": "1", '
                   b'"InvoiceDate": "12/1/2010 8:26", "UnitPrice": "1"}'), "unreadable_event"),
        (event(raw=b"\xff\xfe{}"), "unreadable_event"),
    ]
    if store_backend == "sqlite":
        # each fits alone; together their invoice's SUM(quantity) overflows SQLite's integer
        cases += [(event(InvoiceNo="P5", StockCode="A", Quantity=str(2**62), UnitPrice="0"), "ok"),
                  (event(InvoiceNo="P5", StockCode="B", Quantity=str(2**62), UnitPrice="0"), "unwritable_event")]
    else:
        cases += [(event(InvoiceNo="P5", Quantity=str(2**40)), "unwritable_event"),  # INTEGER column
                  (event(InvoiceNo="P6", Description="NUL \x00 inside"), "unwritable_event")]
    return cases


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServingStore]:
    if request.param == "sqlite":
        s: ServingStore = SqliteStore(tmp_path / "serving.db")
    else:
        s = PostgresStore(request.getfixturevalue("pg_dsn"), schema=request.getfixturevalue("pg_schema"))
    yield s
    s.close()


def services(project: Project, log: EventLog, store: ServingStore) -> StreamServices:
    return StreamServices(project=project, log=log, store=store,
                          dead_letters=DeadLetterLog(project.root / ".cartflow" / "dead-letter.db"))


def lag_gauge(partitions: int) -> float:
    return sum(REGISTRY.get_sample_value("cartflow_consumer_lag_events",
                                         {"consumer": "serving-sink", "partition": str(p)}) or 0
               for p in range(partitions))


def serving_dead_letters(svc: StreamServices) -> list:
    return [d for d in svc.dead_letters.list(limit=1000) if d.origin == "serving-sink"]


def check_no_stall(svc: StreamServices, store_backend: str) -> None:
    """Poison first, then good lines: every good line readable, every poison dead-lettered, lag back to 0."""
    cases = poison(store_backend)
    before = [event(InvoiceNo="G1", StockCode=f"S{i}") for i in range(3)]
    after = [event(InvoiceNo="G2", StockCode=f"S{i}") for i in range(3)]
    svc.log.append(before)
    svc.log.append([e for e, _ in cases])  # one batch: the good lines around the poison are written too
    svc.log.append(after)
    svc.start_sinks(("serving",))
    runner = svc.runners[0]
    wait_until(lambda: svc.store.invoice("G1") and svc.store.invoice("G2"), timeout=30,
               what="the lines around the poison readable")
    assert len(svc.store.invoice("G1").items) == 3 and len(svc.store.invoice("G2").items) == 3
    expected = sorted(reason for _, reason in cases if reason != "ok")
    wait_until(lambda: len(serving_dead_letters(svc)) == len(expected), timeout=15, what="poison dead-lettered")
    letters = serving_dead_letters(svc)
    assert sorted(d.reason for d in letters) == expected
    assert all("partition" in d.errors[0]["message"] for d in letters)
    if store_backend == "sqlite":
        assert [i.stock_code for i in svc.store.invoice("P5").items] == ["A"]  # the first of the pair is kept
    wait_until(lambda: runner.status.lag == 0 and lag_gauge(svc.log.partitions) == 0, timeout=15,
               what="lag back to 0")
    assert runner.status.errors == 0  # nothing was retried: no failure was the store's


def test_poison_events_are_dead_lettered_and_the_sink_moves_on(project: Project, store: ServingStore) -> None:
    svc = services(project, SqliteLog(project.root / ".cartflow" / "events.db", partitions=2), store)
    try:
        check_no_stall(svc, store.backend)
    finally:
        svc.shutdown()


@pytest.mark.slow
def test_poison_events_through_kafka(project: Project, kafka, tmp_path: Path) -> None:
    from cartflow.stream.kafka_log import KafkaLog

    log = KafkaLog(kafka.bootstrap, f"poison-{uuid.uuid4().hex[:8]}", partitions=2)
    svc = services(project, log, SqliteStore(tmp_path / "serving.db"))
    try:
        check_no_stall(svc, "sqlite")
    finally:
        svc.shutdown()


def test_a_reused_event_id_never_replaces_the_first_content(project: Project, store: ServingStore) -> None:
    svc = services(project, SqliteLog(project.root / ".cartflow" / "events.db", partitions=2), store)
    try:
        first = event("order-1-line-1", InvoiceNo="536370", CustomerID="12583")
        moved = event("order-1-line-1", InvoiceNo="536999", CustomerID="99999", Quantity="600")
        svc.log.append([first, first])  # a retry: the same content
        svc.log.append([moved])
        svc.log.append([event(InvoiceNo="G3")])
        svc.start_sinks(("serving",))
        wait_until(lambda: svc.store.invoice("G3") is not None, timeout=30, what="later line readable")
        assert svc.store.invoice("536999") is None
        kept = svc.store.invoice("536370")
        assert kept.summary.customer_id == "12583" and kept.items[0].quantity == 6
        wait_until(lambda: serving_dead_letters(svc), timeout=15, what="the conflict dead-lettered")
        [letter] = serving_dead_letters(svc)
        assert letter.reason == "event_id_conflict" and '"536999"' in letter.record
    finally:
        svc.shutdown()


def test_a_broken_store_is_retried_not_dead_lettered_and_lag_grows(project: Project, pg_dsn: str,
                                                                   pg_schema: str) -> None:
    """A missing table is the store's fault: nothing is dead-lettered, lag shows the backlog, then it recovers."""
    store = PostgresStore(pg_dsn, schema=pg_schema)
    svc = services(project, SqliteLog(project.root / ".cartflow" / "events.db", partitions=2), store)
    admin = psycopg.connect(pg_dsn, autocommit=True)
    try:
        svc.start_sinks(("serving",))
        runner = svc.runners[0]
        wait_until(lambda: runner.status.partitions, timeout=15, what="partitions assigned")
        admin.execute(f"ALTER TABLE {pg_schema}.order_lines RENAME TO order_lines_away")
        lines = [event(InvoiceNo=f"R{i}", StockCode="X") for i in range(5)]
        svc.log.append(lines)
        wait_until(lambda: runner.status.errors >= 2, timeout=30, what="the sink failing")
        wait_until(lambda: runner.status.lag == 5 and lag_gauge(2) == 5, timeout=15, what="lag reported while failing")
        assert serving_dead_letters(svc) == []
        admin.execute(f"ALTER TABLE {pg_schema}.order_lines_away RENAME TO order_lines")
        wait_until(lambda: store.count_lines() == 5, timeout=60, what="the backlog written after recovery")
        wait_until(lambda: runner.status.lag == 0, timeout=15, what="lag back to 0")
        assert serving_dead_letters(svc) == []
    finally:
        svc.shutdown()
        admin.close()


def test_lag_grows_while_the_sink_is_blocked_on_the_store(project: Project, tmp_path: Path) -> None:
    """Another process holds the SQLite store's write lock: the sink waits, and its lag is still reported."""
    store = SqliteStore(tmp_path / "serving.db")
    svc = services(project, SqliteLog(project.root / ".cartflow" / "events.db", partitions=2), store)
    blocker = sqlite3.connect(tmp_path / "serving.db", isolation_level=None)
    released = threading.Event()
    try:
        svc.start_sinks(("serving",))
        runner = svc.runners[0]
        wait_until(lambda: runner.status.partitions, timeout=15, what="partitions assigned")
        blocker.execute("BEGIN EXCLUSIVE")
        svc.log.append([event(InvoiceNo=f"B{i}") for i in range(4)])
        wait_until(lambda: runner.status.lag == 4 and lag_gauge(2) == 4, timeout=15,
                   what="lag reported while the write waits")
        blocker.execute("ROLLBACK")
        released.set()
        wait_until(lambda: store.count_lines() == 4 and runner.status.lag == 0, timeout=30, what="caught up")
    finally:
        if not released.is_set():
            blocker.execute("ROLLBACK")
        blocker.close()
        svc.shutdown()
