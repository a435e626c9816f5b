"""kill -9 the server in the middle of a `send`, restart it: every acknowledged event exactly once.

The client retries through the outage (connection refused, then 202 again), so some
batches reach the log twice: once before the crash without an answer, once after. The
serving store (upserts by event id) and the raw files (claimed event ids, replayed
flush intents) must each hold every acknowledged event once, and nothing else.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from cartflow.config import Project
from cartflow.lake.storage import LocalStorage
from cartflow.runtime.state import SqliteState
from cartflow.serving.sqlite_store import SqliteStore
from cartflow.stream.send import SendSummary, send_file
from conftest import write_csv
from stream_fixtures import API_KEY, order_lines, to_csv_lines, wait_until

pytestmark = pytest.mark.slow  # real `cartflow serve` processes killed and restarted, Kafka among the logs

ROWS = 6_000


def raw_event_ids(project: Project) -> Counter:
    state, storage = SqliteState(project.state_path), LocalStorage(project.lake_uri)
    ids: Counter = Counter()
    try:
        for m in state.manifests():
            if m.source == "storefront":
                ids.update(json.loads(line)["event_id"] for line in storage.read_bytes(m.raw_key).splitlines())
    finally:
        state.close()
    return ids


def store_ids(project: Project) -> list[str]:
    store = SqliteStore(project.resolve(project.config.serving.path))
    try:
        return store.line_ids()
    finally:
        store.close()


@pytest.mark.parametrize("log_backend", ["sqlite", "kafka"])
def test_kill_9_during_send_then_restart_loses_and_doubles_nothing(
        request: pytest.FixtureRequest, project: Project, servers, tmp_path: Path, log_backend: str) -> None:
    env = {"CARTFLOW__STREAM__RAW_FLUSH_ROWS": "700", "CARTFLOW__STREAM__RAW_FLUSH_SECONDS": "0.3"}
    if log_backend == "kafka":
        env |= {"CARTFLOW__STREAM__BACKEND": "kafka",
                "CARTFLOW__STREAM__BOOTSTRAP_SERVERS": request.getfixturevalue("kafka").bootstrap,
                "CARTFLOW__STREAM__TOPIC": f"crash-{uuid.uuid4().hex[:8]}"}
    csv_path = write_csv(tmp_path / "retail.csv", to_csv_lines(order_lines(ROWS, seed=21)))
    server = servers(project, **env)

    sent_rows = [0]
    result: dict[str, SendSummary | BaseException] = {}

    def run_send() -> None:
        try:
            result["summary"] = send_file(csv_path, server.url, API_KEY, batch=500, retries=12,
                                          timeout=10, keep_event_ids=True,
                                          on_progress=lambda _bytes, rows: sent_rows.__setitem__(0, rows))
        except BaseException as exc:  # surfaced by the assertion below
            result["error"] = exc

    sender = threading.Thread(target=run_send, daemon=True)
    sender.start()
    wait_until(lambda: sent_rows[0] >= 2_000, timeout=60, every=0.002, what="the send under way")
    server.kill9()
    rows_at_kill = sent_rows[0]
    time.sleep(0.5)  # not a wait: the API stays down a moment, so the client's posts fail and it retries
    restarted = servers(project, port=server.port, **env)  # the same port: the client's retries reach it
    sender.join(timeout=180)
    assert not sender.is_alive(), "send did not finish"
    assert "error" not in result, result.get("error")
    summary = result["summary"]
    assert isinstance(summary, SendSummary)
    assert rows_at_kill < ROWS, "the kill came after the send had finished"
    assert summary.failed_rows == 0 and summary.accepted == ROWS and summary.retries >= 1
    acked = Counter(summary.event_ids)
    assert len(acked) == ROWS

    wait_until(lambda: len(store_ids(project)) >= ROWS, timeout=60, every=0.2, what="serving store caught up")
    wait_until(lambda: sum(raw_event_ids(project).values()) >= ROWS, timeout=60, every=0.2, what="raw caught up")
    # every consumer has read the whole log: anything doubled has landed by now
    wait_until(lambda: all(c["lag"] == 0 for c in restarted.get("/v1/health").json()["consumers"].values()),
               timeout=60, every=0.2, what="every consumer caught up with the log")
    ids = store_ids(project)
    assert len(ids) == len(set(ids)) == ROWS and set(ids) == set(acked)
    assert raw_event_ids(project) == Counter({i: 1 for i in acked})
    if log_backend == "sqlite":
        import sqlite3

        with sqlite3.connect(project.resolve(project.config.stream.path)) as db:
            in_log = db.execute("SELECT count(*) FROM events").fetchone()[0]
        print(f"\nkilled after {rows_at_kill} rows; {summary.retries} retries; the log holds {in_log} events "
              f"for {ROWS} acknowledged ({in_log - ROWS} unacknowledged copies)")
