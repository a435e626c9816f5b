"""The API over a real `cartflow serve` process: auth, limits, dead letter, errors, docs, metrics."""

from __future__ import annotations

import json
from typing import Iterator

import httpx
import pytest

from cartflow.scaffold import init_project
from stream_fixtures import API_KEY, ApiServer, order_lines, wait_until

MAX_BODY = 20_000
MAX_BATCH = 50


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    root = tmp_path_factory.mktemp("api") / "shop"
    init_project(root)
    server = ApiServer(root, {"CARTFLOW_API_KEY": f"old-key,{API_KEY}",
                              "CARTFLOW__API__MAX_BODY_BYTES": str(MAX_BODY),
                              "CARTFLOW__API__MAX_BATCH": str(MAX_BATCH),
                              "CARTFLOW__STREAM__RAW_FLUSH_SECONDS": "0.5"})
    server.start()
    yield server
    server.stop()


def test_writes_need_a_valid_api_key(api: ApiServer) -> None:
    records = order_lines(2, seed=1)
    missing = api.post(records, key=None)
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    assert "X-API-Key" in missing.json()["message"]
    wrong = api.post(records, key="nope")
    assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
    assert api.post(records, key="old-key").status_code == 202  # several keys, for rotation
    assert api.get("/v1/invoices/" + records[0]["InvoiceNo"]).status_code in (200, 404)  # reads need no key


def test_the_body_size_limit_is_enforced(api: ApiServer) -> None:
    big = json.dumps(order_lines(40, seed=2)).encode() + b" " * MAX_BODY
    response = api.post(big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large" and "max_body_bytes" in response.json()["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(5):
            yield b" " * (MAX_BODY // 4)

    streamed = httpx.post(f"{api.url}/v1/order-lines", content=chunks(), headers={"X-API-Key": API_KEY}, timeout=30)
    assert streamed.status_code == 413


def test_the_batch_size_limit_is_enforced(api: ApiServer) -> None:
    records = [{"InvoiceNo": "1", "StockCode": "A", "Quantity": 1, "InvoiceDate": "1/1/2011 8:00",
                "UnitPrice": 1}] * (MAX_BATCH + 1)
    response = api.post(records)
    assert response.status_code == 413
    assert response.json()["error"] == "batch_too_large" and "max_batch" in response.json()["message"]


def test_bad_records_go_to_the_dead_letter_with_a_reason(api: ApiServer) -> None:
    good = order_lines(2, seed=3)
    bad = [{**good[0], "Quantity": "lots"}, {**good[1], "InvoiceDate": "someday", "Colour": "red"}]
    body = [good[0], bad[0], good[1], bad[1]]
    first = api.post(body)
    assert first.status_code == 202, first.text
    result = first.json()
    assert result["accepted"] == 2 and result["rejected"] == 2 and len(result["event_ids"]) == 2
    assert [(e["index"], e["reason"]) for e in result["errors"]] == [(1, "invalid:Quantity"),
                                                                     (3, "unknown_field:Colour")]
    assert {x["field"] for x in result["errors"][1]["errors"]} == {"Colour", "InvoiceDate"}
    assert api.post(body).json()["event_ids"] == result["event_ids"]  # a retry: same events, same dead letters

    from typer.testing import CliRunner

    from cartflow.cli import app

    out = CliRunner().invoke(app, ["dlq", "list", "stream", "--project", str(api.project_dir), "--format", "json",
                                   "--reason", "invalid:Quantity"])
    assert out.exit_code == 0, out.output
    entries = [e for e in json.loads(out.output) if '"lots"' in e["detail"]["record"]]
    assert len(entries) == 1 and entries[0]["source"] == "api" and entries[0]["reason"] == "invalid:Quantity"
    assert entries[0]["detail"]["errors"][0]["message"].startswith("must be a whole number")
    listing = CliRunner().invoke(app, ["dlq", "list", "stream", "--project", str(api.project_dir)],
                                 env={"COLUMNS": "200"})
    assert "unknown_field:Colour" in listing.output


def test_an_event_id_reused_with_other_content_is_rejected_and_the_first_kept(api: ApiServer) -> None:
    first, other, later = order_lines(3, seed=31, lines_per_invoice=1)
    event_id = "shop-7:order-1:line-1"
    assert api.post([{**first, "event_id": event_id}]).status_code == 202
    moved = {**other, "event_id": event_id}  # another invoice and customer under the same id
    conflict = api.post([moved])
    assert conflict.status_code == 422 and conflict.json()["accepted"] == 0
    [error] = conflict.json()["errors"]
    assert error["index"] == 0 and error["reason"] == "event_id_conflict"
    assert error["errors"][0]["field"] == "event_id" and "new event id" in error["errors"][0]["message"]
    mixed = api.post([{**later, "event_id": "shop-7:order-3:line-1"}, moved])
    assert mixed.status_code == 202 and mixed.json()["accepted"] == 1
    assert [(e["index"], e["reason"]) for e in mixed.json()["errors"]] == [(1, "event_id_conflict")]
    retry = api.post([{**first, "event_id": event_id}])  # the same content again: an idempotent retry
    assert retry.status_code == 202 and retry.json()["event_ids"] == [event_id]
    wait_until(lambda: api.get(f"/v1/invoices/{later['InvoiceNo']}").status_code == 200, timeout=30,
               what="the later line visible")
    kept = api.get(f"/v1/invoices/{first['InvoiceNo']}").json()
    assert [i["line_id"] for i in kept["items"]] == [event_id]
    assert api.get(f"/v1/invoices/{other['InvoiceNo']}").status_code == 404

    from typer.testing import CliRunner

    from cartflow.cli import app

    out = CliRunner().invoke(app, ["dlq", "list", "stream", "--project", str(api.project_dir), "--format", "json",
                                   "--reason", "event_id_conflict"])
    assert out.exit_code == 0, out.output
    assert {e["source"] for e in json.loads(out.output)} == {"api"}


def test_all_invalid_is_422_and_unreadable_bodies_are_400(api: ApiServer) -> None:
    response = api.post([{"InvoiceNo": "1"}])
    assert response.status_code == 422 and response.json()["accepted"] == 0
    assert response.json()["errors"][0]["reason"] == "missing_field:StockCode"
    broken = api.post(b'[{"InvoiceNo": ', headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["message"]


def test_ndjson_bodies_and_a_malformed_line(api: ApiServer) -> None:
    good = order_lines(3, seed=4)
    body = "\n".join(json.dumps(r) for r in good[:2]) + "\n{oops\n" + json.dumps(good[2]) + "\n"
    response = api.post(body.encode(), headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code == 202
    assert response.json()["accepted"] == 3
    assert response.json()["errors"] == [{"index": 2, "line": 3, "reason": "malformed_json",
                                          "errors": response.json()["errors"][0]["errors"]}]


def test_unknown_keys_get_404_with_a_clear_body(api: ApiServer) -> None:
    invoice = api.get("/v1/invoices/NOPE-1")
    assert invoice.status_code == 404 and invoice.json()["error"] == "not_found"
    assert "NOPE-1" in invoice.json()["message"]
    customer = api.get("/v1/customers/99999999/invoices")
    assert customer.status_code == 404 and "unknown" in customer.json()["message"]
    assert api.get("/v1/nothing-here").json()["error"] == "not_found"
    assert api.get("/v1/customers/unknown/invoices", params={"limit": 0}).status_code == 422


def test_posted_lines_are_readable_and_a_retry_does_not_double(api: ApiServer) -> None:
    records = order_lines(25, seed=5)
    assert api.post(records).status_code == 202
    assert api.post(records).status_code == 202
    invoice = records[0]["InvoiceNo"]
    body = wait_until(lambda: (r := api.get(f"/v1/invoices/{invoice}")).status_code == 200 and r.json(),
                      timeout=30, what="invoice visible")
    assert len(body["items"]) == sum(1 for r in records if r["InvoiceNo"] == invoice)
    customer = next(r["CustomerID"] for r in records if r["CustomerID"])
    page = api.get(f"/v1/customers/{customer}/invoices", params={"limit": 1}).json()
    assert page["totals"]["invoices"] >= 1 and len(page["invoices"]) == 1
    if page["next_cursor"]:
        assert api.get(page["next"]).status_code == 200
    assert api.get(f"/v1/customers/{customer}/invoices", params={"cursor": "bogus"}).json()["error"] == "bad_cursor"


def test_health_metrics_and_openapi(api: ApiServer) -> None:
    health = api.get("/v1/health").json()
    assert health["status"] in ("ok", "degraded") and health["log"]["ok"] and health["store"]["ok"]
    assert set(health["consumers"]) == {"raw-sink", "serving-sink"}
    metrics = api.get("/metrics").text
    for name in ("cartflow_ingest_events_total", "cartflow_ingest_requests_total", "cartflow_consumer_lag_events",
                 "cartflow_consumer_errors_total", "cartflow_dead_letter_records_total",
                 "cartflow_serving_visible_seconds_bucket"):
        assert name in metrics, name
    spec = api.get("/openapi.json").json()
    assert {"/v1/order-lines", "/v1/invoices/{invoice_no}", "/v1/customers/{customer_id}/invoices",
            "/v1/health", "/metrics"} <= set(spec["paths"])
    assert "X-API-Key" in json.dumps(spec["components"]["securitySchemes"])
    assert api.get("/docs").status_code == 200


def test_without_a_configured_key_writes_are_disabled(project, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from cartflow.api.app import create_app

    monkeypatch.delenv("CARTFLOW_API_KEY", raising=False)
    with TestClient(create_app(project, consumers=False)) as client:
        response = client.post("/v1/order-lines", json=order_lines(1), headers={"X-API-Key": "anything"})
        assert response.status_code == 503 and "CARTFLOW_API_KEY" in response.json()["message"]
        assert client.get("/v1/health").json()["ingest"].startswith("disabled")


def test_serve_send_consume_help_is_complete() -> None:
    from typer.testing import CliRunner

    from cartflow.cli import app

    for command, words in (("serve", ["--no-consumers", "--port", "--workers", "X-API-Key"]),
                           ("send", ["--url", "--batch", "--rate", "--api-key", "--retries", "CARTFLOW_API_KEY"]),
                           ("consume", ["--only"])):
        out = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert out.exit_code == 0 and all(w in out.output for w in words), (command, out.output)
