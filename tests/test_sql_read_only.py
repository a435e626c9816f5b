"""`cartflow sql` is a read-only window on the marts: writes, DDL and other files are refused unless --unsafe.

Statements are classified by DuckDB's own parser, and the connection itself loses file
access beyond the published Parquet, on a local lake and on S3 (SeaweedFS). An
unreachable lake is one clear line, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cartflow.cli import app
from cartflow.config import Project
from cartflow.lake.storage import open_lake

REFUSED = [
    "COPY (SELECT 1) TO '{out}'",
    "COPY orders TO '{out}' (FORMAT csv)",
    "ATTACH '{out}.db' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "DROP VIEW orders",
    "CREATE TABLE t AS SELECT * FROM orders",
    "CREATE OR REPLACE VIEW orders AS SELECT 1",
    "INSERT INTO orders VALUES (1, 2)",
    "SET enable_external_access = true",
    "EXPORT DATABASE '{out}'",
    "CHECKPOINT",
    "SELECT 1; DROP VIEW orders",
]
ALLOWED = ["SELECT count(*) AS n FROM orders", "WITH x AS (SELECT * FROM orders) SELECT sum(qty) AS q FROM x",
           "DESCRIBE orders", "SHOW TABLES", "SUMMARIZE orders", "EXPLAIN SELECT * FROM orders",
           "FROM orders LIMIT 1", "SELECT 1; SELECT 2"]
OTHER_FILES = ["SELECT * FROM read_csv('{secret}')", "SELECT * FROM read_text('{secret}')",
               "SELECT * FROM read_parquet('{elsewhere}')"]


def publish_orders(project: Project, tmp_path: Path) -> None:
    """A published mart as `cartflow run` leaves it: marts/orders/orders.parquet in the lake."""
    local = tmp_path / "orders.parquet"
    duckdb.sql(f"COPY (SELECT range AS id, range * 2 AS qty FROM range(5)) TO '{local}' (FORMAT parquet)")
    open_lake(project).write_bytes("marts/orders/orders.parquet", local.read_bytes())


def sql(project: Project, statement: str, *extra: str):
    return CliRunner().invoke(app, ["sql", "--project", str(project.root), "--format", "json", *extra, statement],
                              env={"COLUMNS": "80"})


def check_read_only(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "exfiltrated.csv"
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2\n")
    (tmp_path / "elsewhere.parquet").write_bytes((tmp_path / "orders.parquet").read_bytes())
    for statement in REFUSED:
        result = sql(project, statement.format(out=out))
        assert result.exit_code == 1, (statement, result.output)
        message = " ".join(result.output.split())
        assert "read-only" in message and "--unsafe" in message, (statement, result.output)
        assert "Traceback" not in result.output
    for statement in OTHER_FILES:
        result = sql(project, statement.format(secret=secret, elsewhere=tmp_path / "elsewhere.parquet"))
        assert result.exit_code == 1 and "hunter2" not in result.output, (statement, result.output)
        assert "--unsafe" in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not any(tmp_path.glob("exfiltrated*"))
    for statement in ALLOWED:
        result = sql(project, statement)
        assert result.exit_code == 0, (statement, result.output)
    assert json.loads(sql(project, "SELECT count(*) AS n FROM orders").output) == [{"n": 5}]


def test_local_lake_is_read_only_by_default(project: Project, tmp_path: Path) -> None:
    publish_orders(project, tmp_path)
    check_read_only(project, tmp_path)


def test_unsafe_lifts_it(project: Project, tmp_path: Path) -> None:
    publish_orders(project, tmp_path)
    out = tmp_path / "copy.csv"
    result = sql(project, f"COPY orders TO '{out}' (FORMAT csv)", "--unsafe")
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0] == "id,qty"


@pytest.mark.slow
def test_s3_lake_is_read_only_too(s3_project: Project, tmp_path: Path) -> None:
    publish_orders(s3_project, tmp_path)
    check_read_only(s3_project, tmp_path)


@pytest.mark.slow
def test_an_unreachable_lake_is_one_clear_line(s3_project: Project, s3_server, monkeypatch) -> None:
    config = s3_project.root / "cartflow.toml"
    config.write_text(config.read_text().replace(s3_server.endpoint, "http://127.0.0.1:9"))
    result = sql(s3_project, "SELECT 1")
    assert result.exit_code == 1
    flat = " ".join(result.output.split())
    assert "cannot connect to the endpoint" in flat and "127.0.0.1:9" in flat, result.output
    assert "Traceback" not in result.output and "botocore" not in result.output
