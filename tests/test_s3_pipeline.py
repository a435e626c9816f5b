"""`cartflow run` end to end with the lake on a real S3 server (SeaweedFS, credentials enforced)."""

from __future__ import annotations

import json

import duckdb
import pytest
from typer.testing import CliRunner

from cartflow.cli import app
from cartflow.config import load_project
from cartflow.lake.storage import open_lake
from cartflow.runtime.backends import open_state
from cartflow.sandbox.retail_generator import generate_online_retail
from conftest_s3 import KEY_ENV, SECRET_ENV

pytestmark = pytest.mark.slow


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output + (str(result.exception) if result.exception and
                                              not isinstance(result.exception, SystemExit) else "")


def test_pipeline_on_s3(s3_project, s3_server, monkeypatch) -> None:
    root = s3_project.root
    landing = root / "landing" / "online_retail"
    generated = generate_online_retail(landing, scale=0.004, seed=11)
    source_bytes = generated.files[0].read_bytes()

    code, out = cli("run", "--project", str(root))
    assert code == 0, out
    assert "succeeded" in out

    project = load_project(root)
    storage = open_lake(project)
    assert storage.root.startswith(f"s3://{s3_server.bucket}/")
    assert not (root / "lake").exists(), "an S3 project must not write a local lake"

    # raw: the bytes exactly as received, under raw/<source>/<entity>/ingest_date=…/<batch>.csv
    raw = storage.list("raw/online_retail/order_lines")
    assert len(raw) == 1 and "/ingest_date=" in raw[0] and raw[0].endswith(".csv")
    assert storage.read_bytes(raw[0]) == source_bytes

    # bronze: one Parquet per batch on S3, every raw row in it
    state = open_state(project)
    manifests = state.manifests()
    state.close()
    assert [m.status for m in manifests] == ["transformed"]
    bronze = [k for k in storage.list("bronze/order_lines") if manifests[0].batch_id in k]
    assert bronze == [f"bronze/order_lines/{manifests[0].batch_id}.parquet"]
    con = duckdb.connect()
    storage.prepare_duckdb(con)
    bronze_rows = con.execute(f"SELECT count(*) FROM read_parquet('{storage.uri(bronze[0])}')").fetchone()[0]
    assert bronze_rows == manifests[0].rows > 0

    # marts: every published table on S3, catalog written, counts match the warehouse
    catalog = json.loads(storage.read_bytes("marts/_catalog.json"))
    assert {"fct_order_line", "dim_customer", "mart_revenue_daily", "quarantine_order_lines"} <= set(catalog["tables"])
    for name, entry in catalog["tables"].items():
        assert storage.exists(entry["key"]), name
    wh = duckdb.connect(str(project.warehouse_path), read_only=True)
    silver, quarantine, lines, net = wh.execute(
        "SELECT (SELECT count(*) FROM silver.order_lines), (SELECT count(*) FROM silver.quarantine_order_lines), "
        "(SELECT count(*) FROM gold.fct_order_line), (SELECT sum(net_revenue) FROM gold.mart_revenue_monthly)"
    ).fetchone()
    wh.close()
    assert silver + quarantine == bronze_rows, "every row accounted for"
    assert catalog["tables"]["fct_order_line"]["rows"] == lines

    # cartflow sql reads the published Parquet on S3 (httpfs from the wheel, secret from config)
    code, out = cli("sql", "--project", str(root), "--format", "json",
                    "SELECT count(*) AS n, (SELECT sum(net_revenue) FROM mart_revenue_monthly) AS net "
                    "FROM fct_order_line")
    assert code == 0, out
    row = json.loads(out)[0]
    assert row["n"] == lines and row["net"] == str(net)

    # the catalog sees every layer on S3 and writes Athena DDL pointing at the bucket
    code, out = cli("catalog", "--project", str(root), "--format", "json")
    assert code == 0, out
    layers = {(t["layer"], t["name"]): t for t in json.loads(out)}
    assert layers[("raw", "online_retail.order_lines")]["rows"] == bronze_rows
    assert layers[("bronze", "order_lines")]["location"] == storage.uri("bronze/order_lines") + "/"
    assert layers[("silver", "order_lines")]["rows"] == silver
    assert layers[("published", "fct_order_line")]["rows"] == lines
    code, out = cli("catalog", "--project", str(root), "--ddl", "athena")
    assert code == 0, out
    assert f"LOCATION '{storage.uri('marts/fct_order_line')}/'" in out

    # a second run with nothing new is a no-op on S3 too
    code, out = cli("run", "--project", str(root))
    assert code == 0 and "nothing new" in out, out

    # the credentials were never written anywhere a user could read them
    secret = s3_server.secret_key
    state_db = (root / ".cartflow" / "state.db").read_bytes()
    assert secret.encode() not in state_db
    assert all(secret not in p.read_text(errors="ignore") for p in root.rglob("*.toml"))


def test_wrong_credentials_fail_clearly(s3_project, s3_server, monkeypatch) -> None:
    root = s3_project.root
    generate_online_retail(root / "landing" / "online_retail", scale=0.001, seed=3)
    monkeypatch.setenv(SECRET_ENV, "not-the-secret")

    code, out = cli("run", "--project", str(root))
    assert code == 1, out
    flat = " ".join(out.split())
    assert s3_server.endpoint in flat and KEY_ENV in flat and SECRET_ENV in flat, out
    assert "rejected the credentials" in flat
    assert "not-the-secret" not in out and s3_server.secret_key not in out
    assert "Traceback" not in out

    code, out = cli("sql", "--project", str(root), "SELECT 1")
    assert code == 1 and "rejected the credentials" in " ".join(out.split()), out
    assert "Traceback" not in out

    state = open_state(load_project(root))
    run = state.runs(limit=1)[0]
    state.close()
    assert run["status"] == "failed" and SECRET_ENV in run["error"] and "not-the-secret" not in run["error"]

