"""End to end with real SQLMesh: quality alert, backfill restatement, quarantine replay — all idempotent."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cartflow.cli import app
from cartflow.config import Project, load_project
from cartflow.lake.storage import open_lake
from cartflow.pipeline.alerts import read_alert_log
from cartflow.pipeline.dlq import provider
from cartflow.pipeline.run import run_pipeline
from cartflow.pipeline.standardize import transform_settings
from cartflow.runtime.logs import reset_logging
from cartflow.transform.runner import table_names
from conftest import write_csv

GOOD = [f"5364{i:02d},2{i:04d},ITEM {i},{i + 1},12/{1 + i % 3}/2010 9:{i:02d},1.{i:02d},1{i:04d},United Kingdom"
        for i in range(12)]
BAD = ["536500,22633,HAND WARMER,abc,12/1/2010 8:28,1.85,13047,United Kingdom",  # unparseable:quantity
       "536501,22634,HAND WARMER,0,12/2/2010 8:28,1.85,13047,United Kingdom",  # zero_quantity
       "536502,22635,HAND WARMER,2,12/2/2010 8:28,0,13047,United Kingdom",  # non_positive_price_sale
       "536503,22636,HAND WARMER,2,not a date,1.85,13047,United Kingdom"]  # unparseable:invoice_date
TABLES = ("silver.order_lines", "silver.quarantine_order_lines", "gold.fct_order_line", "gold.fct_order",
          "gold.dim_customer", "gold.dim_product")


def snapshot(project: Project) -> dict[str, list[str]]:
    con = duckdb.connect(str(project.warehouse_path), read_only=True)
    try:
        return {t: sorted(map(str, con.execute(f"SELECT * EXCLUDE (_ingested_at) FROM {t}").fetchall()))
                if t.startswith("silver") else sorted(map(str, con.execute(f"SELECT * FROM {t}").fetchall()))
                for t in TABLES}
    finally:
        con.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quality_alert_backfill_and_quarantine_replay(project: Project, landing: Path) -> None:
    path = project.root / "cartflow.toml"
    path.write_text(path.read_text() + "\n[quality]\nquarantine_max_share = 0.2\nquarantine_min_rows = 10\n")
    project = load_project(project.root)
    write_csv(landing / "day1.csv", GOOD[:6] + BAD[:2])
    write_csv(landing / "day2.csv", GOOD[6:] + BAD[2:])

    first = run_pipeline(project)
    assert first.status == "succeeded", first.error
    assert first.layer_rows["silver"] == 12 and first.layer_rows["quarantine"] == 4
    [breach] = first.breaches  # 4 of 16 = 25% > 20%
    assert breach.check == "quarantine_share"
    assert [a["kind"] for a in read_alert_log(project)] == ["quality_breach"]
    before = snapshot(project)

    q = provider("quarantine")
    assert q.counts(project) == {"unparseable:quantity": 1, "zero_quantity": 1, "non_positive_price_sale": 1,
                                 "unparseable:invoice_date": 1}
    item = next(i for i in q.list(project) if i.reason == "zero_quantity")
    shown = q.show(project, item.id)
    assert shown.detail["manifest"]["source_file"] == "day1.csv" and shown.detail["quantity"] == "0"

    # a silver row goes missing (a bad manual fix, a bug): a backfill of its day restates it
    settings = transform_settings(project, open_lake(project))
    [silver] = table_names(settings, ["silver.order_lines"])
    con = duckdb.connect(str(project.warehouse_path))
    con.execute(f"DELETE FROM {silver.physical} WHERE invoice_no = '536400'")
    con.close()
    assert snapshot(project) != before
    try:
        result = CliRunner().invoke(app, ["run", "-p", str(project.root), "--from", "2010-12-02",
                                          "--to", "2010-12-02", "--log-format", "json"])
    finally:
        reset_logging()
    assert result.exit_code == 0, result.output
    assert "restated 2010-12-02..2010-12-02: 2 batch(es) selected" in result.output
    assert snapshot(project) == before  # restored, and nothing doubled

    # replay the quarantine after "a fix": the rules did not change, so every row is rejected again,
    # and the tables are exactly as they were (a replay is idempotent)
    replay = q.replay(project, None, reason=None)
    assert (replay.selected, replay.replayed, replay.failed) == (4, 0, 4)
    assert snapshot(project) == before
    assert {i.status for i in q.list(project)} == {"rejected_again"}
    restated = json.loads(json.dumps(run_pipeline(project).to_dict()))
    assert restated["new_batches"] == 0  # nothing left pending behind the restatements
