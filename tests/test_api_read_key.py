"""Reads behind an optional key: purchase history and the dashboard; health shows no paths; /docs is offline."""

from __future__ import annotations

import base64
import json
import re
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from cartflow.api.app import create_app
from cartflow.config import Project
from cartflow.serving.store import open_store
from cartflow.stream.records import parse_records, split_body
from cartflow.stream.serving_sink import line_from_event
from stream_fixtures import order_lines

READ_KEYS = "old-read-key,read-key-2"
PROTECTED = ["/v1/invoices/{invoice}", "/v1/customers/{customer}/invoices", "/dashboard", "/dashboard/api/meta",
             "/dashboard/static/dashboard.js"]
OPEN = ["/v1/health", "/metrics", "/openapi.json", "/docs"]


def seed(project: Project) -> dict:
    """One invoice in the serving store, as the serving sink would have written it."""
    record = order_lines(1, seed=3)[0]
    record["CustomerID"] = 12345
    event = parse_records(split_body(json.dumps([record]).encode())).events[0]
    store = open_store(project)
    try:
        store.upsert([line_from_event(event.value, currency="GBP", source="storefront")])
    finally:
        store.close()
    return {"invoice": record["InvoiceNo"], "customer": "12345"}


def client_for(project: Project, monkeypatch: pytest.MonkeyPatch, read_keys: str | None) -> TestClient:
    monkeypatch.setenv(project.config.api.api_key_env, "write-key")
    if read_keys is None:
        monkeypatch.delenv(project.config.api.read_key_env, raising=False)
    else:
        monkeypatch.setenv(project.config.api.read_key_env, read_keys)
    return TestClient(create_app(project, consumers=False))


@pytest.fixture
def keyed(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, dict]]:
    ids = seed(project)
    with client_for(project, monkeypatch, READ_KEYS) as client:
        yield client, ids


def test_with_a_read_key_every_read_needs_it(keyed: tuple[TestClient, dict]) -> None:
    client, ids = keyed
    for path in PROTECTED:
        url = path.format(**ids)
        missing = client.get(url)
        assert missing.status_code == 401, url
        assert missing.json()["error"] == "unauthorized" and "CARTFLOW_READ_KEY" in missing.json()["message"]
        assert client.get(url, headers={"X-API-Key": "nope"}).status_code == 401, url
        assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401, url
        assert client.get(url, headers={"X-API-Key": "write-key"}).status_code == 401, url  # a write key is not one
        assert client.get(url, headers={"X-API-Key": "old-read-key"}).status_code == 200, url
        assert client.get(url, headers={"Authorization": "Bearer read-key-2"}).status_code == 200, url
    for path in OPEN:
        assert client.get(path).status_code == 200, path
    dashboard = client.get("/dashboard")
    assert dashboard.headers["www-authenticate"].startswith("Basic")  # a browser asks for the key
    basic = base64.b64encode(b"anyone:read-key-2").decode()
    assert client.get("/dashboard", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    assert client.get("/v1/health").json()["reads"] == "key required"


def test_without_a_read_key_reads_stay_open(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = seed(project)
    with client_for(project, monkeypatch, None) as client:
        for path in PROTECTED:
            assert client.get(path.format(**ids)).status_code == 200, path
        assert client.get("/v1/health").json()["reads"] == "open"


READS = ("/v1/invoices/{invoice_no}", "/v1/customers/{customer_id}/invoices", "/dashboard/api/data")


def test_the_openapi_document_states_the_read_contract(keyed: tuple[TestClient, dict]) -> None:
    client, ids = keyed
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert {"ReadKey", "ReadBearer"} <= set(schemes)
    for path in READS:
        operation = spec["paths"][path]["get"]
        assert operation["security"] == [{"ReadKey": []}, {"ReadBearer": []}], path  # required: a key is set
        for status in ("401", "404", "422", "503"):
            ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorBody"), (path, status)
    assert "HTTPValidationError" not in json.dumps(spec)  # a 422 has the one error shape, as the server sends it
    invalid = client.get(f"/v1/customers/{ids['customer']}/invoices", params={"limit": 0},
                         headers={"X-API-Key": "old-read-key"})
    assert invalid.status_code == 422 and set(invalid.json()) == {"error", "message"}


def test_without_a_read_key_the_document_says_reads_need_none(project: Project,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with client_for(project, monkeypatch, None) as client:
        spec = client.get("/openapi.json").json()
        for path in READS:
            assert spec["paths"][path]["get"]["security"][0] == {}, path  # optional


def test_health_names_backends_and_never_a_path(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    with client_for(project, monkeypatch, None) as client:
        body = client.get("/v1/health")
        assert body.status_code == 200
        health = body.json()
        assert health["log"] == {"ok": True, "backend": "sqlite"} and health["store"] == {"ok": True, "backend": "sqlite"}
        assert str(project.root) not in body.text and ".cartflow" not in body.text and ".db" not in body.text
        client.app.state.services.store.close()
        client.app.state.services.store.path.unlink()  # the store's file is gone
        client.app.state.services.store.path.mkdir()  # and a directory stands in its place
        failing = client.get("/v1/health")
        assert failing.status_code == 503 and failing.json()["store"] == {"ok": False, "backend": "sqlite",
                                                                          "error": "unreachable"}
        assert str(project.root) not in failing.text and ".db" not in failing.text


def test_docs_work_offline(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    with client_for(project, monkeypatch, None) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert not re.search(r"(https?:)?//", page.text), "the page references another host"
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert len(assets) >= 3
        for url in assets:
            served = client.get(url)
            assert served.status_code == 200 and len(served.content) > 100, url
        assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
        assert client.get("/redoc").status_code == 404  # no package ships ReDoc: off rather than a CDN page
        assert client.get("/docs/assets/../../etc/passwd").status_code == 404
