"""/docs and the keyed dashboard in a real browser (Debian's Chromium through Playwright), with no network.

Every request the page makes to a host other than the server is refused and recorded:
the API reference must still draw every operation. With a read key configured, the
dashboard opens once the browser is given the key (HTTP Basic, as a person types it) and
its own data requests carry it; without the key the browser gets the 401.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterator
from urllib.parse import urlparse

import pytest
import uvicorn

from cartflow.api.app import create_app
from cartflow.config import Project

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]  # slow: the API docs in Chromium


@pytest.fixture
def serve(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(read_keys: str | None = None) -> str:
        if read_keys:
            monkeypatch.setenv(project.config.api.read_key_env, read_keys)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(project, consumers=False), host="127.0.0.1", port=port,
                                               log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(15)


def offline(pg, url: str) -> list[str]:
    """Refuse every request to another host; return the list the page tried."""
    host = urlparse(url).netloc
    elsewhere: list[str] = []

    def route(r):
        if urlparse(r.request.url).netloc != host:
            elsewhere.append(r.request.url)
            return r.abort()
        return r.continue_()

    pg.route("**/*", route)
    return elsewhere


def test_the_api_reference_renders_with_no_network(page, serve) -> None:
    url = serve()
    elsewhere = offline(page, url)
    page.goto(f"{url}/docs")
    page.wait_for_selector(".opblock", timeout=30000)
    paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.dataset.path)")
    assert {"/v1/order-lines", "/v1/invoices/{invoice_no}", "/v1/customers/{customer_id}/invoices"} <= set(paths)
    assert elsewhere == []


def test_the_keyed_dashboard_opens_with_the_key_and_not_without(browser, serve) -> None:
    url = serve(read_keys="dash-key")
    without = browser.new_context()
    try:
        try:  # headless Chromium cannot ask a person for the key: it stops at the 401's Basic challenge
            shown = without.new_page().goto(f"{url}/dashboard").status
        except Exception as exc:  # noqa: BLE001 — playwright's Error
            assert "ERR_INVALID_AUTH_CREDENTIALS" in str(exc)
            shown = 401
        assert shown == 401
    finally:
        without.close()
    keyed = browser.new_context(http_credentials={"username": "me", "password": "dash-key"})
    try:
        pg = keyed.new_page()
        assert pg.goto(f"{url}/dashboard").status == 200
        pg.wait_for_function("document.body.dataset.state === 'empty'", timeout=30000)  # its data requests passed
    finally:
        keyed.close()
