"""A project's own models/ folder, end to end: loaded beside the built-in models, published,
queryable by bare name, tested, previewed (`cartflow plan`), selected and refreshed; bad
project models fail with file and line before anything is written; and a project with one
order-line source evaluates only the models order lines feed.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from cartflow.cli import app
from cartflow.config import Project, load_project
from cartflow.lake.storage import open_lake
from cartflow.pipeline.run import run_pipeline
from cartflow.publish.catalog import build_catalog
from cartflow.runtime.backends import open_state
from cartflow.serving.sql import query
from cartflow.transform.warehouse import open_warehouse
from conftest import write_csv

pytestmark = pytest.mark.slow  # SQLMesh plans and runs of a project's own models

# invoice, stock, description, quantity, date, price, customer, country
LINES = [
    "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",  # 15.30
    "536366,22633,HAND WARMER,12,12/1/2010 8:28,1.85,17850,United Kingdom",  # 22.20
    "536370,22728,ALARM CLOCK,24,12/1/2010 8:45,3.75,12583,France",  # 90.00
    "C536379,D,Discount,-1,12/1/2010 9:41,27.50,14527,United Kingdom",  # return 27.50
    "536400,22728,ALARM CLOCK,4,1/5/2011 9:00,3.75,12583,France",  # 15.00
    "536401,22633,HAND WARMER,abc,1/5/2011 9:00,1.85,17850,United Kingdom",  # quarantined
]
TEST_YAML = """\
test_mart_revenue_by_country:
  model: gold.mart_revenue_by_country
  inputs:
    gold.fct_order_line:
      rows:
        - {country: France, invoice_date: 2010-12-01, invoice_no: '1', is_sale: true, net_amount: 10.5}
        - {country: France, invoice_date: 2010-12-09, invoice_no: '2', is_sale: true, net_amount: 4.5}
        - {country: null, invoice_date: 2010-12-09, invoice_no: '3', is_sale: true, net_amount: 1}
  outputs:
    query:
      rows:
        - {country: France, month_start: 2010-12-01, net_revenue: 15.0, orders: 2}
"""
SECOND_MART = """\
MODEL (name gold.mart_orders_per_customer, kind FULL);
SELECT customer_id, COUNT(DISTINCT invoice_no) AS orders FROM gold.fct_order GROUP BY customer_id
"""


class Recorder:
    """A Reporter that keeps every progress detail (which models SQLMesh evaluated)."""

    def __init__(self) -> None:
        self.details: list[str] = []

    def stage(self, name: str, total: int | None = None) -> Recorder:
        return self

    def advance(self, n: int = 1, detail: str | None = None) -> None:
        if detail:
            self.details.append(detail)

    def done(self, detail: str | None = None) -> None:
        pass

    def message(self, text: str) -> None:
        self.details.append(text)

    def evaluated(self) -> set[str]:
        return {d.split()[1] for d in self.details if d.startswith("evaluated ")}


def published_at(project: Project) -> str:
    return json.loads(open_lake(project).read_bytes("marts/_catalog.json"))["published_at"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from cartflow.scaffold import init_project

    root = tmp_path_factory.mktemp("models") / "shop"
    init_project(root)
    (root / "tests").mkdir()
    (root / "tests" / "test_revenue_by_country.yaml").write_text(TEST_YAML)
    write_csv(root / "landing" / "online_retail" / "day1.csv", LINES)
    project = load_project(root)
    recorder = Recorder()
    result = run_pipeline(project, reporter=recorder)
    assert result.status == "succeeded", result.error
    return {"project": project, "first": result, "evaluated": recorder.evaluated()}


def test_example_mart_runs_and_is_published_by_its_bare_name(shop: dict) -> None:
    project = shop["project"]
    assert (project.root / "models" / "mart_revenue_by_country.sql").exists()
    columns, rows = query(open_lake(project), "SELECT country, month_start, net_revenue, orders "
                                              "FROM mart_revenue_by_country ORDER BY 1, 2")
    assert columns == ["country", "month_start", "net_revenue", "orders"]
    assert [(c, str(m), n, o) for c, m, n, o in rows] == [
        ("France", "2010-12-01", Decimal("90.000"), 1),
        ("France", "2011-01-01", Decimal("15.000"), 1),
        ("United Kingdom", "2010-12-01", Decimal("10.000"), 2),  # 15.30 + 22.20 - 27.50
    ]
    catalog = {(t.layer, t.name): t for t in build_catalog(project, open_lake(project), open_state(project))}
    assert catalog[("published", "mart_revenue_by_country")].rows == 3
    assert catalog[("gold", "mart_revenue_by_country")].rows == 3


def test_one_order_line_source_evaluates_only_what_order_lines_feed(shop: dict) -> None:
    evaluated = shop["evaluated"]
    assert {"silver.order_lines", "gold.fct_order_line", "gold.dim_customer",
            "gold.mart_revenue_by_country"} <= evaluated
    for entity in ("customers", "products", "transactions", "sales", "exchange_rates"):
        assert f"silver.{entity}" not in evaluated and f"silver.quarantine_{entity}" not in evaluated
    assert not {m for m in evaluated if m.startswith(("silver.stg_customers", "silver.fx_", "silver.stg_sales"))}
    # skipped models still exist (empty) and their quarantine is still published
    warehouse = open_warehouse(shop["project"])
    assert warehouse.row_count("silver.customers") == 0
    assert "quarantine_customers" in {r[0] for r in query(open_lake(shop["project"]), "SHOW TABLES")[1]}
    assert shop["first"].layer_rows["silver"] == 5 and shop["first"].layer_rows["quarantine"] == 1


def test_cartflow_test_runs_builtin_and_project_tests_and_audits(shop: dict) -> None:
    root = shop["project"].root
    ok = CliRunner().invoke(app, ["test", "--project", str(root)])
    assert ok.exit_code == 0, ok.output
    assert "unit tests:" in ok.output and "audits:" in ok.output
    passed, run = map(int, ok.output.split("unit tests: ")[1].split(" passed")[0].split(" of "))
    assert passed == run >= 5  # 4 built-in + the project's
    failing = root / "tests" / "test_failing.yaml"
    failing.write_text(TEST_YAML.replace("orders: 2", "orders: 7").replace("test_mart_revenue_by_country:",
                                                                          "test_wrong_orders:"))
    try:
        bad = CliRunner().invoke(app, ["test", "--project", str(root)])
    finally:
        failing.unlink()
    assert bad.exit_code == 1
    assert "FAIL" in bad.output and "test_wrong_orders" in bad.output


def test_plan_shows_a_new_model_without_applying_it(shop: dict) -> None:
    project = shop["project"]
    models = project.root / "models"
    (models / "orders_per_customer.sql").write_text(SECOND_MART)
    try:
        out = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["plan", "--project", str(project.root)])
        assert out.exit_code == 0, out.output
        assert "added" in out.output and "gold.mart_orders_per_customer (project)" in out.output
        assert "computed in full on the next run" in out.output
        # nothing applied: the table does not exist, and a second plan shows the same
        assert open_warehouse(project).row_count("gold.mart_orders_per_customer") is None
        again = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["plan", "--project", str(project.root)])
        assert "gold.mart_orders_per_customer" in again.output
    finally:
        (models / "orders_per_customer.sql").unlink()
    unchanged = CliRunner().invoke(app, ["plan", "--project", str(project.root)])
    assert "no changes" in unchanged.output, unchanged.output


@pytest.mark.parametrize("source, line, what", [
    ("MODEL (name gold.broken, kind FULL);\n\nSELECT customer_id, COUNT(* FROM gold.fct_order\n", None, "broken.sql"),
    ("MODEL (name gold.orphan, kind FULL);\n\nSELECT *\nFROM gold.no_such_mart\n", 4, "gold.no_such_mart"),
])
def test_bad_project_model_fails_with_file_and_line_before_writing(shop: dict, source: str, line: int | None,
                                                                   what: str) -> None:
    project = shop["project"]
    name = "broken.sql" if "broken" in source else "orphan.sql"
    path = project.root / "models" / name
    path.write_text(source)
    write_csv(project.root / "landing" / "online_retail" / f"late-{name}.csv",
              [f"5369{9 if name == 'broken.sql' else 8}9,22633,HAND WARMER,1,1/9/2011 9:00,1.85,17850,United Kingdom"])
    before = published_at(project)
    try:
        result = run_pipeline(project)
    finally:
        path.unlink()
    assert result.status == "failed"
    assert str(path) in result.error and what in result.error
    if line is not None:
        assert f"{path}:{line}:" in result.error
    else:
        assert "Line 3" in result.error or "line 3" in result.error
    assert published_at(project) == before
    assert open_warehouse(project).row_count("gold.broken") is None
    assert open_warehouse(project).row_count("gold.orphan") is None
    pending = [m for m in open_state(project).manifests() if m.status == "bronze"]
    assert pending, "the new batch must wait for a run that can process it"
    # the model fixed (removed): the next run processes the waiting batch
    fixed = run_pipeline(project)
    assert fixed.status == "succeeded", fixed.error
    assert fixed.new_batches == 1


def test_select_runs_only_the_model_and_downstream_and_full_refresh_rebuilds(shop: dict) -> None:
    project = shop["project"]
    recorder = Recorder()
    before = published_at(project)
    result = run_pipeline(project, reporter=recorder, select=("gold.mart_revenue_by_country",))
    assert result.status == "succeeded", result.error
    assert recorder.evaluated() == {"gold.mart_revenue_by_country"}
    assert published_at(project) != before  # what it rebuilt is published
    shown = CliRunner(env={"COLUMNS": "80"}).invoke(
        app, ["run", "--project", str(project.root), "--select", "gold.mart_revenue_by_country"])
    assert shown.exit_code == 0, shown.output
    assert "nothing new" not in shown.output and "succeeded" in shown.output  # it did rebuild

    recorder = Recorder()
    result = run_pipeline(project, reporter=recorder, select=("gold.fct_order+",), full_refresh=True)
    assert result.status == "succeeded", result.error
    assert "gold.fct_order" in recorder.evaluated()
    assert "gold.mart_customer_purchase_history" in recorder.evaluated()  # downstream of fct_order
    assert "silver.order_lines" not in recorder.evaluated()
    _, rows = query(open_lake(project), "SELECT count(*) FROM fct_order")
    assert rows == [(7,)]  # every invoice, rebuilt from every batch (5 + the two late ones)

    bad = run_pipeline(project, select=("gold.no_such_model",))
    assert bad.status == "failed" and "no model matches" in bad.error
