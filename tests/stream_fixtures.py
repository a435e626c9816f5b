"""Fixtures for the stream tests: a real `cartflow serve` process, a Tansu broker, test data.

A pytest plugin (tests/conftest.py registers it): tests name the fixtures `kafka` and `servers`
as arguments; the helpers (`order_lines`, `to_csv_lines`, `ApiServer`) are imported.
Every process started here is stopped at teardown (SIGTERM, then SIGKILL), and every
wait is bounded.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from cartflow.config import Project
from kafka_broker import KafkaBroker, free_port, start_tansu
from polling import wait_until  # noqa: F401 - re-exported: the stream tests import it from here

API_KEY = "test-key-0123456789"
STARTUP_TIMEOUT = 90.0  # generous: a loaded 2-core CI machine needs seconds just to import FastAPI


@pytest.fixture(scope="module")
def kafka() -> Iterator[KafkaBroker]:
    broker = start_tansu()
    try:
        yield broker
    finally:
        broker.stop()


@dataclass
class ApiServer:
    project_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = STARTUP_TIMEOUT) -> ApiServer:
        self.log_path = self.project_dir / f"serve-{time.time_ns()}.log"
        out = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cartflow.cli", "serve", "--project", str(self.project_dir),
             "--port", str(self.port), *self.args],
            env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cartflow serve exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"cartflow serve not healthy within {timeout}s:\n{self.log_tail()}")

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode if self.process else None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def post(self, body: Any, key: str | None = API_KEY, **kwargs: Any) -> httpx.Response:
        headers = {"X-API-Key": key} if key else {}
        headers.update(kwargs.pop("headers", {}))
        if isinstance(body, (bytes, str)):
            return httpx.post(f"{self.url}/v1/order-lines", content=body, headers=headers, timeout=30, **kwargs)
        return httpx.post(f"{self.url}/v1/order-lines", json=body, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=10, **kwargs)


@pytest.fixture
def servers() -> Iterator[Callable[..., ApiServer]]:
    """`servers(project, **env)` starts `cartflow serve`; all are stopped at teardown."""
    started: list[ApiServer] = []

    def start(project: Project, port: int | None = None, args: list[str] | None = None, **env: str) -> ApiServer:
        server = ApiServer(project.root, {"CARTFLOW_API_KEY": API_KEY, "CARTFLOW__STREAM__RAW_FLUSH_SECONDS": "0.5",
                                          **env})
        if port:
            server.port = port
        server.args = list(args or [])
        started.append(server)
        return server.start()

    yield start
    for s in started:
        s.stop()


def order_lines(n: int, seed: int = 7, lines_per_invoice: int = 5, first_invoice: int | None = None
                ) -> list[dict[str, Any]]:
    """Distinct Online Retail-like lines: sales, guests (no CustomerID), some cancellations."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        invoice = (first_invoice or 600000 + seed * 10000) + i // lines_per_invoice
        cancelled = invoice % 17 == 0
        customer = None if invoice % 7 == 0 else 12000 + invoice % 300
        quantity = rnd.randint(1, 24)
        out.append({
            "InvoiceNo": f"C{invoice}" if cancelled else str(invoice),
            "StockCode": f"{20000 + i % 4000}{'A' if i % 3 == 0 else ''}",
            "Description": f"PRODUCT {i % 4000}",
            "Quantity": -quantity if cancelled else quantity,
            "InvoiceDate": f"{1 + invoice % 12}/{1 + invoice % 28}/2011 {8 + invoice % 10}:{invoice % 60:02d}",
            "UnitPrice": f"{rnd.randint(10, 2000) / 100:.2f}",
            "CustomerID": customer,
            "Country": "United Kingdom" if invoice % 5 else "France",
        })
    return out


def to_csv_lines(records: list[dict[str, Any]]) -> list[str]:
    def cell(v: Any) -> str:
        text = "" if v is None else str(v)
        return f'"{text}"' if "," in text else text

    return [",".join(cell(r[f]) for f in ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                                            "UnitPrice", "CustomerID", "Country")) for r in records]
