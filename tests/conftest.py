"""Shared fixtures: projects in temporary directories, generated data, CSV helpers."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from cartflow.config import Project, load_project
from cartflow.scaffold import init_project

# Fixtures shared by several modules live in plugins, never imported from another test module:
# the S3 server (SeaweedFS), the API server and Kafka broker, the multi-source sandbox, the published
# demo lake, Chromium, and polling for a condition.
pytest_plugins = ["conftest_s3", "stream_fixtures", "multisource_fixtures", "demo_fixtures", "browser_fixtures",
                  "polling"]

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def write_csv(path: Path, rows: list[str], header: str = HEADER, encoding: str = "latin-1") -> Path:
    """A Kaggle-style CSV (CRLF) from already formatted lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode(encoding))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    init_project(tmp_path / "shop")
    return load_project(tmp_path / "shop")


@pytest.fixture
def landing(project: Project) -> Path:
    return project.root / "landing" / "online_retail"


PG_DSN = os.environ.get("CARTFLOW_TEST_PG_DSN", "postgresql://cartflow:cartflow@127.0.0.1:5432/cartflow_test")


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The real PostgreSQL that `scripts/test-services.sh` (run by `make test`) started."""
    try:
        with psycopg.connect(PG_DSN, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_DSN} is not reachable ({exc}): run `bash scripts/test-services.sh`, "
                    "or set CARTFLOW_TEST_PG_DSN")
    return PG_DSN


@pytest.fixture
def pg_schema(pg_dsn: str, request: pytest.FixtureRequest):
    """A fresh schema per test, dropped afterwards: tests never see each other's tables."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA {name}")
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
