"""Alerts to a real local HTTP receiver (that answers 500) and a real SMTP receiver (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import duckdb
import pytest
from aiosmtpd.controller import Controller

import cartflow.pipeline.run as run_mod
from cartflow.config import Project, load_project
from cartflow.pipeline.alerts import Alert, alerter_for, read_alert_log
from cartflow.pipeline.quality import check_quality
from cartflow.pipeline.run import run_pipeline
from cartflow.pipeline.standardize import ReconciliationError
from cartflow.runtime.backends import open_state
from cartflow.runtime.state import Manifest

FAST = """
[retries]
attempts = 1
"""


class Receiver:
    """A real HTTP server on 127.0.0.1 that fails the first `failures` POSTs with 500."""

    def __init__(self, failures: int) -> None:
        self.failures, self.bodies, self.statuses = failures, [], []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(json.loads(body))
                status = 500 if len(receiver.bodies) <= receiver.failures else 200
                receiver.statuses.append(status)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"boom" if status == 500 else b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/cartflow"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Mailbox]]:
    box = Mailbox()
    with socket.socket() as probe:  # aiosmtpd needs a concrete port (it connects to itself to check)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield controller, box
    finally:
        controller.stop()


def configure(project: Project, extra: str) -> Project:
    path = project.root / "cartflow.toml"
    path.write_text(path.read_text() + extra)
    return load_project(project.root)


def failing_project(project: Project, extra: str) -> Project:
    """A required source whose directory is missing: every run fails (a real fault, no mock)."""
    (project.root / "landing" / "online_retail").rmdir()
    return configure(project, FAST + extra)


@pytest.mark.slow
def test_webhook_answering_500_is_retried_then_delivered_and_the_run_is_unharmed(project: Project) -> None:
    with Receiver(failures=2) as hook:
        project = failing_project(project, f"""
[alerts]
delivery_attempts = 3
delivery_backoff_seconds = 0.01
[alerts.webhook]
url = "{hook.url}"
""")
        result = run_pipeline(project)
    assert result.status == "failed"
    assert hook.statuses == [500, 500, 200]
    payload = hook.bodies[-1]
    assert set(payload) == {"text", "blocks"}  # Slack incoming-webhook JSON
    assert result.run_id in payload["text"] and "failed" in payload["text"]
    assert payload["blocks"][0]["type"] == "section"
    logged = read_alert_log(project)[-1]
    assert logged["kind"] == "run_failed" and logged["run_id"] == result.run_id
    assert logged["deliveries"] == [{"sink": "webhook", "ok": True, "attempts": 3, "error": None}]


@pytest.mark.slow
def test_webhook_that_always_fails_never_crashes_the_run(project: Project, caplog: pytest.LogCaptureFixture) -> None:
    with Receiver(failures=99) as hook:
        project = failing_project(project, f"""
[alerts]
delivery_attempts = 2
delivery_backoff_seconds = 0.01
[alerts.webhook]
url = "{hook.url}"
format = "json"
""")
        result = run_pipeline(project)  # must return normally
    assert result.status == "failed" and len(hook.bodies) == 2
    assert hook.bodies[0]["kind"] == "run_failed" and hook.bodies[0]["run_id"] == result.run_id  # json format
    logged = read_alert_log(project)[-1]
    assert logged["deliveries"][0]["ok"] is False and "HTTP 500" in logged["deliveries"][0]["error"]
    assert any("NOT delivered" in r.getMessage() for r in caplog.records)


def test_unreachable_webhook_and_missing_env_are_logged_not_raised(project: Project,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_HOOK", raising=False)
    project = configure(project, """
[alerts]
delivery_attempts = 2
delivery_backoff_seconds = 0.01
[alerts.webhook]
url_env = "NO_SUCH_HOOK"
""")
    deliveries = alerter_for(project).notify(Alert("test", "info", "t", "x", "shop"))
    assert deliveries[0].ok is False and deliveries[0].attempts == 1  # not retried: waiting cannot fix it
    assert "NO_SUCH_HOOK is not set" in deliveries[0].error


@pytest.mark.slow
def test_email_to_a_real_smtp_receiver(project: Project, smtp: tuple[Controller, Mailbox]) -> None:
    controller, box = smtp
    project = failing_project(project, f"""
[alerts]
on_success = true
[alerts.email]
host = "127.0.0.1"
port = {controller.port}
from_addr = "cartflow@shop.test"
to = ["oncall@shop.test", "data@shop.test"]
""")
    result = run_pipeline(project)
    assert len(box.messages) == 1
    sender, rcpts, content = box.messages[0]
    assert sender == "cartflow@shop.test" and rcpts == ["oncall@shop.test", "data@shop.test"]
    assert f"Subject: [cartflow shop] run {result.run_id} failed" in content
    assert f"X-Cartflow-Run: {result.run_id}" in content and "online_retail" in content

    (project.root / "landing" / "online_retail").mkdir()  # fixed: the next run succeeds, and says so
    ok = run_pipeline(project)
    assert ok.status == "succeeded" and len(box.messages) == 2
    assert f"run {ok.run_id} succeeded" in box.messages[1][2]


@pytest.mark.slow
def test_success_alerts_are_off_by_default(project: Project) -> None:
    result = run_pipeline(project)
    assert result.status == "succeeded" and read_alert_log(project) == []


def warehouse_with(path: Path, good: int, bad: int, batch: str = "b1") -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA silver")
    con.execute("CREATE TABLE silver.order_lines AS SELECT ? AS _batch_id, range AS _source_row, "
                "TIMESTAMP '2011-12-09 12:50' AS invoice_ts FROM range(?)", [batch, good])
    con.execute("CREATE TABLE silver.quarantine_order_lines AS SELECT ? AS _batch_id, range AS _source_row, "
                "'unparseable:quantity' AS reason FROM range(?)", [batch, bad])
    con.close()


def test_quality_quarantine_share_above_threshold(project: Project) -> None:
    project = configure(project, "\n[quality]\nquarantine_max_share = 0.10\nquarantine_min_rows = 50\n")
    project.warehouse_path.parent.mkdir(parents=True)
    warehouse_with(project.warehouse_path, good=80, bad=20)
    state = open_state(project)
    try:
        [breach] = check_quality(project, state, ["b1"])
        assert breach.check == "quarantine_share" and breach.details["share"] == 0.2
        assert "20 of 100" in breach.message and "unparseable:quantity 20" in breach.message
        assert check_quality(project, state, ["other"]) == []  # only this run's batches count
    finally:
        state.close()


def test_quality_freshness_by_arrival_and_by_event_time(project: Project) -> None:
    project = configure(project, "\n[quality]\nfreshness_max_hours = 26\n")
    state = open_state(project)
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    try:
        [never] = check_quality(project, state, [], now=now)
        assert "no data received yet" in never.message
        state.add_manifest(Manifest("online_retail", "order_lines", "b1", "raw/x", "day.csv", 1, 1,
                                    (now - timedelta(hours=30)).isoformat(), None, "transformed"))
        [stale] = check_quality(project, state, [], now=now)
        assert stale.check == "freshness" and "30.0h old" in stale.message
        assert check_quality(project, state, [], now=now - timedelta(hours=5)) == []
    finally:
        state.close()
    project = configure(project, 'freshness_basis = "event"\n')
    project.warehouse_path.parent.mkdir(parents=True)
    warehouse_with(project.warehouse_path, good=1, bad=0)
    state = open_state(project)
    try:
        [old] = check_quality(project, state, [], now=now)
        assert "2011-12-09" in old.message and "days old" in old.message
    finally:
        state.close()


@pytest.mark.slow
def test_reconciliation_break_fails_the_run_and_alerts(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise ReconciliationError("batch b1: bronze 10 != silver 8 + quarantine 1")

    monkeypatch.setattr(run_mod, "run_models", broken)
    result = run_pipeline(project)
    assert result.status == "failed"
    kinds = [(a["kind"], a["details"].get("check")) for a in read_alert_log(project)]
    assert kinds == [("run_failed", None), ("quality_breach", "reconciliation")]
    assert "publish" not in result.stage_seconds  # nothing published
