"""Dashboard data: the panels' SQL against the marts and against plain SQL on the facts.

The generated project is built once per test session (`published_demo`, from the demo_fixtures
plugin) and shared with the browser and notebook tests.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cartflow.cli import app as cli_app
from cartflow.config import Project, load_project
from cartflow.dashboard.cube import product_cells
from cartflow.dashboard.filters import Filter, FilterError, parse_filter
from cartflow.dashboard.panels import PANELS, Dashboard
from cartflow.dashboard.routes import mount_dashboard
from cartflow.lake.storage import open_lake
from cartflow.scaffold import init_project
from cartflow.serving.sql import query

pytestmark = pytest.mark.slow  # the published demo lake is a whole-pipeline run

@pytest.fixture(scope="module")
def dashboard(published_demo: Project) -> Dashboard:
    d = Dashboard(open_lake(published_demo))
    yield d
    d.close()


def sql(project: Project, statement: str) -> list[dict]:
    """`cartflow sql`'s function: rows as dicts."""
    columns, rows = query(open_lake(project), statement)
    return [dict(zip(columns, r, strict=False)) for r in rows]


def num(value) -> float:
    return float(value) if isinstance(value, Decimal) else value


def test_full_range_through_preaggregates_equals_the_marts(dashboard: Dashboard) -> None:
    """Filtered panels use the pre-aggregates; over the whole range they must equal the marts."""
    meta = dashboard.meta()
    marts = dashboard.panels(Filter())["panels"]
    cube = dashboard.panels(Filter(date.fromisoformat(meta["date_min"]), date.fromisoformat(meta["date_max"])))["panels"]
    assert marts["revenue_monthly"]["source"] == "mart_revenue_monthly"
    assert cube["revenue_monthly"]["source"] == "cf_invoices"
    for name in PANELS:
        strip = lambda p: {k: v for k, v in p.items() if k != "source"}  # noqa: E731
        assert strip(cube[name]) == strip(marts[name]), name


def test_product_cells_cover_exactly_the_filter(dashboard: Dashboard) -> None:
    """Whole months come from the month table, edges from the day table: the sums must not care."""
    con = dashboard.snapshot().con
    days = [None, date(2010, 12, 1), date(2010, 12, 31), date(2011, 1, 15), date(2011, 2, 28), date(2011, 3, 1),
            date(2011, 6, 30), date(2011, 7, 2), date(2011, 12, 9), date(2011, 12, 31)]
    for start in days:
        for end in days:
            if start and end and start > end:
                continue
            f = Filter(start, end, ("United Kingdom",) if (start or end) and not start else ())
            got = con.execute(f"SELECT SUM(quantity), SUM(revenue) FROM {product_cells(f)}").fetchone()
            want = con.execute("SELECT SUM(quantity), SUM(revenue) FROM cf_products_day "
                               f"WHERE {f.where('invoice_date', 'country')}").fetchone()
            assert got == want, f


def test_every_panel_has_data(dashboard: Dashboard) -> None:
    panels = dashboard.panels(Filter())["panels"]
    assert set(panels) == set(PANELS)
    for name, panel in panels.items():
        assert "missing" not in panel, (name, panel)
    assert panels["kpis"]["values"]["orders"] > 0
    assert len(panels["products"]["most_sold"]) == 10
    assert {r["ranking"] for r in panels["seasons"]["rows"]} == {"revenue", "quantity"}
    assert panels["quarantine"]["rows"], "the generator's quirks always quarantine some rows"


def test_filtered_panels_match_plain_sql_on_the_facts(dashboard: Dashboard, published_demo: Project) -> None:
    meta = dashboard.meta()
    countries = meta["countries"][:3]
    f = parse_filter("2011-02-10", "2011-09-20", countries)
    where = f"invoice_date BETWEEN DATE '2011-02-10' AND DATE '2011-09-20' AND country IN " \
            f"({', '.join(repr(c) for c in countries)})"
    panels = dashboard.panels(f)["panels"]

    k = sql(published_demo, f"""
        SELECT SUM(gross_amount) g, SUM(return_amount) r, SUM(net_amount) n,
               COUNT(DISTINCT CASE WHEN is_sale THEN invoice_no END) o,
               COUNT(DISTINCT CASE WHEN is_sale AND customer_id <> 'unknown' THEN customer_id END) c, COUNT(*) l
        FROM fct_order_line WHERE {where}""")[0]
    v = panels["kpis"]["values"]
    assert (v["gross_sales"], v["returns"], v["net_revenue"], v["orders"], v["customers"], v["order_lines"]) == \
        (num(k["g"]), num(k["r"]), num(k["n"]), k["o"], k["c"], k["l"])

    monthly = sql(published_demo, f"""
        SELECT CAST(DATE_TRUNC('month', invoice_date) AS DATE) AS m, SUM(gross_amount) g, SUM(net_amount) n,
               COUNT(DISTINCT CASE WHEN is_sale THEN invoice_no END) o
        FROM fct_order_line WHERE {where} GROUP BY 1 ORDER BY 1""")
    assert [(r["period_start"], r["gross_sales"], r["net_revenue"], r["orders"])
            for r in panels["revenue_monthly"]["rows"]] == \
        [(r["m"].isoformat(), num(r["g"]), num(r["n"]), r["o"]) for r in monthly]

    top = sql(published_demo, f"""
        SELECT l.stock_code, SUM(quantity) q FROM fct_order_line l
        JOIN dim_product p ON p.stock_code = l.stock_code AND p.is_current
        WHERE (l.is_sale OR l.line_type = 'cancellation') AND p.is_product
          AND {where.replace('invoice_date', 'l.invoice_date').replace('country', 'l.country')}
        GROUP BY 1 ORDER BY q DESC, l.stock_code LIMIT 10""")
    assert [(r["stock_code"], r["quantity"]) for r in panels["products"]["most_sold"]] == \
        [(r["stock_code"], r["q"]) for r in top]

    by_country = sql(published_demo, f"""
        SELECT country, SUM(net_amount) n FROM fct_order_line WHERE {where} GROUP BY 1 ORDER BY n DESC, country""")
    assert [(r["country"], r["net_revenue"]) for r in panels["countries"]["rows"]] == \
        [(r["country"], num(r["n"])) for r in by_country]

    customers = sql(published_demo, f"""
        SELECT customer_id, SUM(gross_amount) g FROM fct_order_line WHERE {where} AND customer_id <> 'unknown'
        GROUP BY 1 HAVING SUM(gross_amount) > 0 ORDER BY g DESC, customer_id LIMIT 10""")
    assert [(r["customer_id"], r["gross_sales"]) for r in panels["customers"]["rows"]] == \
        [(r["customer_id"], num(r["g"])) for r in customers]

    invoices = sql(published_demo, f"""
        SELECT invoice_no, gross_amount FROM fct_order WHERE {where} AND gross_amount > 0
        ORDER BY gross_amount DESC, invoice_no LIMIT 10""")
    assert [(r["invoice_no"], r["gross_amount"]) for r in panels["invoices"]["rows"]] == \
        [(r["invoice_no"], num(r["gross_amount"])) for r in invoices]

    weekday = sql(published_demo, f"""
        SELECT ISODOW(invoice_date) d, ROUND(SUM(gross_amount) / COUNT(DISTINCT invoice_date), 2) a
        FROM fct_order_line WHERE {where} AND is_sale GROUP BY 1 ORDER BY 1""")
    assert [(r["weekday"], r["avg_sales"]) for r in panels["weekday"]["rows"]] == \
        [(r["d"], num(r["a"])) for r in weekday]


def test_the_country_filter_reaches_quarantined_rows(dashboard: Dashboard, published_demo: Project) -> None:
    country = dashboard.meta()["countries"][0]
    expected = sql(published_demo, f"""
        SELECT reason, COUNT(*) n FROM quarantine_order_lines WHERE TRIM(country) = '{country}'
        GROUP BY 1 ORDER BY n DESC, reason""")
    rows = dashboard.panels(parse_filter(countries=[country]))["panels"]["quarantine"]["rows"]
    assert [(r["reason"], r["rows"]) for r in rows] == [(r["reason"], r["n"]) for r in expected]


def test_filter_values_are_validated_and_quoted(dashboard: Dashboard) -> None:
    with pytest.raises(FilterError, match="YYYY-MM-DD"):
        parse_filter("12/01/2011")
    with pytest.raises(FilterError, match="after"):
        parse_filter("2011-05-01", "2011-04-01")
    hostile = parse_filter(countries=["x') OR TRUE OR country IN ('y", "O'Brien"])
    assert "O''Brien" in hostile.where()
    assert dashboard.panels(hostile)["panels"]["kpis"]["values"]["orders"] == 0


def test_answers_are_cached_per_publication(dashboard: Dashboard) -> None:
    f = parse_filter("2011-03-01", "2011-03-31")
    assert dashboard.panels(f) is dashboard.panels(f)


@pytest.fixture(scope="module")
def client(published_demo: Project) -> TestClient:
    app = FastAPI()
    mount_dashboard(app, published_demo)
    return TestClient(app)


def test_http_endpoints(client: TestClient) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text), "nothing may load from another host"
    for asset in re.findall(r'(?:src|href)="(/dashboard/static/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset
    assert client.get("/dashboard/static/../panels.py").status_code == 404
    meta = client.get("/dashboard/api/meta").json()
    assert not meta["empty"] and meta["countries"]
    data = client.get("/dashboard/api/data", params={"from": "2011-04-01", "country": meta["countries"][:2]}).json()
    assert data["filter"] == {"from": "2011-04-01", "to": None, "countries": sorted(meta["countries"][:2])}
    assert set(data["panels"]) == set(PANELS)
    one = client.get("/dashboard/api/panels/kpis").json()
    assert one["panel"]["values"]["orders"] > 0
    bad = client.get("/dashboard/api/data", params={"from": "yesterday"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
    assert client.get("/dashboard/api/panels/nope").status_code == 404


@pytest.fixture
def empty_project(tmp_path: Path) -> Project:
    init_project(tmp_path / "empty")
    return load_project(tmp_path / "empty")


def test_an_empty_lake_is_a_state_not_an_error(empty_project: Project) -> None:
    app = FastAPI()
    mount_dashboard(app, empty_project)
    client = TestClient(app)
    assert client.get("/dashboard").status_code == 200
    assert client.get("/dashboard/api/meta").json()["empty"] is True
    data = client.get("/dashboard/api/data").json()
    assert data["empty"] is True and data["panels"] == {}


def test_report_command_writes_one_self_contained_file(published_demo: Project, empty_project: Project,
                                                       tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "r" / "report.html"
    result = runner.invoke(cli_app, ["report", "--out", str(out), "--project", str(published_demo.root)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert 'id="cf-data"' in page and '"mode":"report"' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<link rel=\"stylesheet\"" not in page and "<script src=" not in page
    empty = runner.invoke(cli_app, ["report", "--out", str(tmp_path / "empty.html"), "--project", str(empty_project.root)])
    assert empty.exit_code == 0 and "nothing published yet" in empty.output
