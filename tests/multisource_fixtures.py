"""Fixtures for the multi-source tests: the sandbox (in this process) on the real PostgreSQL.

A pytest plugin (tests/conftest.py registers it): tests name `seed_sandbox` and `secrets` as
arguments; the helpers (`multi_source_toml`, `make_project`, `manifests`, ...) are imported. The
sandbox's APIs bind free ports on 127.0.0.1 and are stopped at teardown; its tables live
in a schema of their own, dropped afterwards. Every wait is bounded.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from cartflow.config import Project, load_project
from cartflow.lake.storage import open_lake
from cartflow.runtime.backends import open_state
from cartflow.sandbox.server import Sandbox, SandboxInfo, SandboxOptions

API_KEY = "test-customer-key-7f3a"
KEY_ENV = "CARTFLOW_TEST_CUSTOMER_API_KEY"
DSN_ENV = "CARTFLOW_TEST_SOURCE_DSN"


def start_sandbox(pg_dsn: str, *, seed_only: bool, scale: float = 0.1) -> tuple[Sandbox, str]:
    schema = f"sbx_{uuid.uuid4().hex[:10]}"
    options = SandboxOptions(ports={"customers": 0, "fx": 0, "products": 0}, api_key=API_KEY, seed_only=seed_only,
                             scale=scale, postgres=pg_dsn, pg_schema=schema)
    sandbox = Sandbox(options)
    sandbox.start(timeout=90)
    return sandbox, schema


def drop_schema(pg_dsn: str, schema: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(scope="module")
def seed_sandbox(pg_dsn: str) -> Iterator[Sandbox]:
    """The seed files served exactly as the original system received them."""
    sandbox, schema = start_sandbox(pg_dsn, seed_only=True)
    try:
        yield sandbox
    finally:
        sandbox.stop()
        drop_schema(pg_dsn, schema)


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, pg_dsn: str) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(DSN_ENV, pg_dsn)


FAST_RETRIES = """
[retries]
attempts = 2
backoff_seconds = 0.05
max_backoff_seconds = 0.2
"""


def multi_source_toml(info: SandboxInfo, *, base: str = "USD", page_size: int = 250, fast: bool = True,
                      sales: bool = True) -> str:
    """The multi-source system as cartflow sources: APIs, PostgreSQL tables and the sales CSV inbox."""
    http_retry = "request_attempts = 4\nbackoff_seconds = 0.02\nmax_backoff_seconds = 0.2\n" if fast else ""
    text = f"""
[project]
name = "multi-source-test"

[currency]
base = "{base}"

[sources.customers]
kind = "http"
entity = "customers"
url = "{info.customers_url}"
records_path = "data"
auth = {{ type = "api_key", token_env = "{KEY_ENV}", header = "X-API-Key" }}
pagination = {{ style = "page", page_size = {page_size} }}
incremental = {{ param = "updated_since" }}
{http_retry}
[sources.exchange_rates]
kind = "http"
entity = "exchange_rates"
url = "{info.fx_url}/legacy/exchange_rates"
rate_base = "USD"
{http_retry}
[sources.products]
kind = "postgres"
entity = "products"
dsn_env = "{DSN_ENV}"
table = "{info.pg_schema}.products"
key = ["product_id"]
incremental = {{ column = "updated_at" }}
backoff_seconds = 0.05

[sources.transactions]
kind = "postgres"
entity = "transactions"
dsn_env = "{DSN_ENV}"
table = "{info.pg_schema}.transactions"
key = ["transaction_id"]
incremental = {{ column = "updated_at" }}
chunk_rows = 400
backoff_seconds = 0.05
"""
    if sales:
        text += """
[sources.sales]
kind = "files"
entity = "sales"
path = "landing/sales"
currency = "USD"
dates = { dash = "month_first", ambiguous = "quarantine" }
"""
    return text + (FAST_RETRIES if fast else "")


def make_project(root: Path, toml: str) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    (root / "landing" / "sales").mkdir(parents=True, exist_ok=True)
    (root / "cartflow.toml").write_text(toml, encoding="utf-8")
    return load_project(root)


def manifests(project: Project, source: str | None = None) -> list:
    state = open_state(project)
    try:
        return [m for m in state.manifests() if source is None or m.source == source]
    finally:
        state.close()


def watermark(project: Project, source: str, entity: str) -> str | None:
    state = open_state(project)
    try:
        return state.watermark(source, entity)
    finally:
        state.close()


def lake(project: Project):
    return open_lake(project)


def env_clean() -> None:
    os.environ.pop(KEY_ENV, None)
