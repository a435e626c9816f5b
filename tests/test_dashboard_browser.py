"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright.

`cartflow serve`'s app runs under uvicorn on 127.0.0.1 over a generated, published
project; the page must draw every chart with the marts' numbers (checked against
`cartflow sql`), refilter every chart, show a clear state on an empty lake, and the
offline report must compute the same numbers as the server, with no network at all.

Set CARTFLOW_UPDATE_SCREENSHOT=1 to rewrite docs/img/dashboard.png.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest
import uvicorn
from typer.testing import CliRunner

from cartflow.api.app import create_app
from cartflow.cli import app as cli_app
from cartflow.config import Project, load_project
from cartflow.dashboard.report import write_report
from cartflow.lake.storage import open_lake
from cartflow.scaffold import init_project
from cartflow.serving.sql import query

playwright_api = pytest.importorskip("playwright.sync_api")

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "dashboard.png"
CARDS = ("revenue_weekly", "revenue_monthly", "revenue_quarterly", "hourly", "weekday", "seasons", "most_sold",
         "most_valuable", "customers", "invoices", "rfm", "quarantine", "countries", "cohorts")

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]  # slow: Chromium over the published demo lake


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """`cartflow serve`'s app under uvicorn, in a thread of the test process."""

    def __init__(self, project: Project) -> None:
        self.port = _free_port()
        config = uvicorn.Config(create_app(project, consumers=False), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="dashboard-test-server", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(scope="module")
def server(published_demo: Project) -> Iterator[str]:
    with _Server(published_demo) as url:
        yield url


def _ready(pg, renders: int | None = None) -> None:
    condition = "document.body.dataset.state === 'ready'"
    if renders is not None:
        condition += f" && Number(document.body.dataset.renders) >= {renders}"
    pg.wait_for_function(condition, timeout=30000)


def _cartflow_sql(project: Project, statement: str) -> list[dict]:
    """The `cartflow sql` command itself, as a user would run it (JSON output)."""
    result = CliRunner().invoke(cli_app, ["sql", "--project", str(project.root), "--format", "json", statement])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _values(pg, selector: str) -> list[Decimal]:
    return [Decimal(v) for v in pg.eval_on_selector_all(selector, "els => els.map(e => e.dataset.value)")]


def _tooltip_amount(text: str, label: str) -> Decimal:
    match = re.search(rf"{label} (-?)£([\d,]+\.\d\d)", text)
    assert match, f"no {label!r} in tooltip {text!r}"
    return Decimal(match.group(1) + match.group(2).replace(",", ""))


def _signatures(pg) -> dict[str, str]:
    """What each card draws: every mark's value and label, as one string per card."""
    return pg.evaluate("""(cards) => Object.fromEntries(cards.map(c => {
        const card = document.querySelector(`[data-panel="${c}"]`);
        return [c, [...card.querySelectorAll('[data-value]')].map(e => (e.dataset.label || '') + '=' + e.dataset.value)
                    .join('|') + card.textContent];
    }))""", list(CARDS))


def test_every_chart_shows_the_marts_numbers(page, server: str, published_demo: Project,
                                             tmp_path: Path) -> None:
    started = time.perf_counter()
    page.goto(f"{server}/dashboard")
    _ready(page)
    load_seconds = time.perf_counter() - started
    assert load_seconds < 20

    for card in CARDS:  # every chart drew marks, none says "no data"
        marks = page.locator(f'[data-panel="{card}"] .chart svg [data-value]').count()
        assert marks > 0, f"{card} drew nothing"

    # monthly revenue: bars and tooltips against `cartflow sql` on mart_revenue_monthly
    monthly = _cartflow_sql(published_demo, "SELECT period_start, gross_sales, returns, net_revenue, orders "
                                            "FROM mart_revenue_monthly ORDER BY period_start")
    card = '[data-panel="revenue_monthly"]'
    assert page.eval_on_selector_all(f"{card} rect.bar.gross_sales", "els => els.map(e => e.dataset.label)") == \
        [r["period_start"] for r in monthly]
    for key in ("gross_sales", "returns", "net_revenue"):
        mark = "circle.dot" if key == "net_revenue" else f"rect.bar.{key}"
        assert _values(page, f'{card} {mark}[data-key="{key}"]') == [Decimal(r[key]) for r in monthly], key
    bands = page.locator(f"{card} rect.band")
    assert bands.count() == len(monthly)
    for i, row in enumerate(monthly):
        bands.nth(i).hover()
        tip = page.locator("#tooltip")
        tip.wait_for(state="visible")
        text = tip.inner_text()
        assert f"Orders {row['orders']:,}" in text
        for label, key in (("Gross sales", "gross_sales"), ("Returns", "returns"), ("Net revenue", "net_revenue")):
            assert abs(_tooltip_amount(text, label) - Decimal(row[key])) <= Decimal("0.005"), (label, text)

    storage = open_lake(published_demo)

    def one(sql: str):
        return query(storage, sql)[1]

    for period in ("weekly", "quarterly"):
        expected = [r[0] for r in one(f"SELECT gross_sales FROM mart_revenue_{period} ORDER BY period_start")]
        assert _values(page, f'[data-panel="revenue_{period}"] rect.bar.gross_sales') == expected

    gross, orders = one("SELECT SUM(gross_amount), COUNT(DISTINCT CASE WHEN is_sale THEN invoice_no END) "
                        "FROM fct_order_line")[0]
    assert Decimal(page.get_attribute('[data-kpi="gross_sales"]', "data-value")) == gross
    assert int(page.get_attribute('[data-kpi="orders"]', "data-value")) == orders

    most_sold = one("""SELECT SUM(l.quantity) q FROM fct_order_line l JOIN dim_product p
                       ON p.stock_code = l.stock_code AND p.is_current
                       WHERE (l.is_sale OR l.line_type = 'cancellation') AND p.is_product
                       GROUP BY l.stock_code ORDER BY q DESC, l.stock_code LIMIT 10""")
    assert _values(page, '[data-panel="most_sold"] g.row') == [r[0] for r in most_sold]
    top_customer = one("""SELECT SUM(gross_amount) g FROM fct_order_line WHERE customer_id <> 'unknown'
                          GROUP BY customer_id ORDER BY g DESC, customer_id LIMIT 1""")[0][0]
    assert _values(page, '[data-panel="customers"] g.row')[0] == top_customer
    assert _values(page, '[data-panel="invoices"] g.row')[0] == one("SELECT MAX(gross_amount) FROM fct_order")[0][0]
    top_country = one("SELECT SUM(net_amount) n FROM fct_order_line GROUP BY country ORDER BY n DESC LIMIT 1")[0][0]
    assert _values(page, '[data-panel="countries"] g.row')[0] == top_country

    segments = dict(one("SELECT segment, COUNT(*) FROM mart_customer_rfm GROUP BY 1"))
    drawn = page.eval_on_selector_all('[data-panel="rfm"] g.row', "els => els.map(e => [e.dataset.label, +e.dataset.value])")
    assert dict(drawn) == segments
    cohort = one("SELECT retention FROM mart_cohort_retention ORDER BY cohort_month, months_since_first")
    cells = page.eval_on_selector_all('[data-panel="cohorts"] rect.cell',
                                      "els => els.map(e => [e.dataset.row, +e.dataset.col, e.dataset.value])")
    assert sorted((r, c, Decimal(v)) for r, c, v in cells) == sorted(
        (m.isoformat(), k, v) for m, k, v in one("SELECT cohort_month, months_since_first, retention "
                                                  "FROM mart_cohort_retention"))
    assert len(cells) == len(cohort)
    quarantine = dict(one("SELECT reason, SUM(rows) FROM mart_quarantine_summary "
                          "WHERE entity = 'order_lines' GROUP BY 1"))
    drawn = page.eval_on_selector_all('[data-panel="quarantine"] g.row', "els => els.map(e => [e.dataset.label, +e.dataset.value])")
    assert dict(drawn) == quarantine
    latest = one("""SELECT season_year, season FROM mart_top_products_by_season
                    ORDER BY season_year DESC, CASE season WHEN 'winter' THEN 1 WHEN 'spring' THEN 2
                    WHEN 'summer' THEN 3 ELSE 4 END DESC LIMIT 1""")[0]
    season_top = [r[0] for r in one(f"""SELECT revenue FROM mart_top_products_by_season WHERE season_year = {latest[0]}
                                        AND season = '{latest[1]}' AND ranking = 'revenue' ORDER BY rank""")]
    assert _values(page, '[data-panel="seasons"] g.row') == season_top
    page.click('[data-panel="seasons"] [data-ranking="quantity"]')
    season_units = [r[0] for r in one(f"""SELECT quantity FROM mart_top_products_by_season WHERE season_year = {latest[0]}
                                          AND season = '{latest[1]}' AND ranking = 'quantity' ORDER BY rank""")]
    assert _values(page, '[data-panel="seasons"] g.row') == season_units
    page.click('[data-panel="seasons"] [data-ranking="revenue"]')

    api = json.load(urllib.request.urlopen(f"{server}/dashboard/api/data"))["panels"]
    assert _values(page, '[data-panel="weekday"] rect.bar') == \
        [Decimal(str(next((r["avg_sales"] for r in api["weekday"]["rows"] if r["weekday"] == d), 0))) for d in range(1, 8)]
    assert [v for v in _values(page, '[data-panel="hourly"] rect.bar') if v] == \
        [Decimal(str(r["avg_sales"])) for r in api["hourly"]["rows"] if r["avg_sales"]]

    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header belongs at the top of a full-page shot
    target = SCREENSHOT if os.environ.get("CARTFLOW_UPDATE_SCREENSHOT") == "1" else tmp_path / "dashboard.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 20_000


def test_a_filter_changes_every_chart(page, server: str, published_demo: Project) -> None:
    page.goto(f"{server}/dashboard")
    _ready(page, 1)
    before = _signatures(page)
    meta = json.load(urllib.request.urlopen(f"{server}/dashboard/api/meta"))
    country = meta["countries"][0]

    page.fill("#f-from", "2011-03-01")
    page.fill("#f-to", "2011-08-31")
    page.dispatch_event("#f-to", "change")
    page.click("#f-country-btn")
    page.locator("#f-country-list label", has_text=country).first.click()
    page.keyboard.press("Escape")
    page.wait_for_function("location.search.includes('country=') && document.body.dataset.state === 'ready'")
    after = _signatures(page)
    unchanged = [c for c in CARDS if before[c] == after[c]]
    assert not unchanged, f"these charts ignored the filter: {unchanged}"

    gross = query(open_lake(published_demo), f"""
        SELECT SUM(gross_amount) FROM fct_order_line WHERE invoice_date BETWEEN DATE '2011-03-01'
        AND DATE '2011-08-31' AND country = '{country}'""")[1][0][0]
    assert Decimal(page.get_attribute('[data-kpi="gross_sales"]', "data-value")) == gross
    months = page.eval_on_selector_all('[data-panel="revenue_monthly"] rect.bar.gross_sales',
                                       "els => els.map(e => e.dataset.label)")
    assert months and all("2011-03-01" <= m <= "2011-08-01" for m in months)
    assert page.inner_text("#f-country-btn") == country

    query_string = urllib.parse.urlparse(page.url).query
    assert "from=2011-03-01" in query_string and "to=2011-08-31" in query_string
    page.reload()  # the filter lives in the URL: a link or a reload keeps it
    _ready(page, 1)
    assert Decimal(page.get_attribute('[data-kpi="gross_sales"]', "data-value")) == gross
    page.click("#f-reset")
    page.wait_for_function("location.search === '' && document.body.dataset.state === 'ready'")
    assert _signatures(page)["revenue_monthly"] == before["revenue_monthly"]


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day(iso: str) -> str:
    """A day as the page writes it everywhere: 1 Dec 2010."""
    year, month, day = (int(p) for p in iso.split("-"))
    return f"{day} {MONTHS[month - 1]} {year}"


def test_the_date_filter_reads_and_takes_days_as_the_page_writes_them(page, server: str) -> None:
    """Issue 16: the pickers showed 12/01/2010 (the browser's locale) beside "1 Dec 2010" on the page."""
    page.goto(f"{server}/dashboard")
    _ready(page, 1)
    meta = json.load(urllib.request.urlopen(f"{server}/dashboard/api/meta"))
    first, last = _day(meta["date_min"]), _day(meta["date_max"])
    # a text field shows its value as it is, whatever the browser's locale: the same words as the page
    assert [page.get_attribute(f, "type") for f in ("#f-from", "#f-to")] == ["text", "text"]
    assert (page.input_value("#f-from"), page.input_value("#f-to")) == (first, last)
    assert f"{first} – {last}" in page.inner_text("#status") and f"{first} – {last}" in page.inner_text("#foot")

    page.fill("#f-from", "1 mar 2011")  # typed the page's way (any case, any month name or its first letters)
    page.press("#f-from", "Enter")
    page.wait_for_function("location.search.includes('from=2011-03-01') && document.body.dataset.state === 'ready'")
    assert page.input_value("#f-from") == "1 Mar 2011" and f"1 Mar 2011 – {last}" in page.inner_text("#status")

    page.fill("#f-to", "2011-08-31")  # or ISO
    page.press("#f-to", "Enter")
    page.wait_for_function("location.search.includes('to=2011-08-31') && document.body.dataset.state === 'ready'")
    assert page.input_value("#f-to") == "31 Aug 2011"

    page.click("#f-to-wrap button.cal")  # the calendar is the browser's own; its choice reads the page's way
    page.eval_on_selector("#f-to-wrap input[type=date]",
                          "e => { e.value = '2011-06-30'; e.dispatchEvent(new Event('change', {bubbles: true})); }")
    page.wait_for_function("location.search.includes('to=2011-06-30') && document.body.dataset.state === 'ready'")
    assert page.input_value("#f-to") == "30 Jun 2011"

    renders = int(page.evaluate("document.body.dataset.renders"))
    page.fill("#f-from", "13/01/2011")  # ambiguous or not, a numeric day is not guessed
    page.press("#f-from", "Enter")
    page.wait_for_function("document.getElementById('f-from').getAttribute('aria-invalid') === 'true'")
    assert f"Type a day like {first}" in page.inner_text("#status")
    assert page.evaluate("document.getElementById('f-from').validationMessage") == f"Type a day like {first}"
    assert "from=2011-03-01" in page.url and int(page.evaluate("document.body.dataset.renders")) == renders

    page.click("#f-reset")
    page.wait_for_function("location.search === '' && document.body.dataset.state === 'ready'")
    assert (page.input_value("#f-from"), page.input_value("#f-to")) == (first, last)
    assert page.get_attribute("#f-from", "aria-invalid") == "false"


def test_an_empty_lake_says_run_cartflow_run(page, tmp_path: Path) -> None:
    init_project(tmp_path / "empty")
    with _Server(load_project(tmp_path / "empty")) as url:
        page.goto(f"{url}/dashboard")
        page.wait_for_function("document.body.dataset.state === 'empty'", timeout=30000)
        assert "No data yet — run cartflow run" in page.inner_text("#empty h1")
        assert page.locator("#content").is_hidden()


def test_the_offline_report_filters_like_the_server(page, server: str, published_demo: Project,
                                                    tmp_path: Path) -> None:
    report = write_report(open_lake(published_demo), tmp_path / "report.html").path
    requests: list[str] = []
    page.route("**/*", lambda route: (requests.append(route.request.url),
                                      route.continue_() if route.request.url.startswith("file:") else route.abort()))
    page.goto(report.as_uri())
    _ready(page, 1)
    assert all(u.startswith("file:") for u in requests), f"the report fetched {requests}"
    marks = {c: page.locator(f'[data-panel="{c}"] .chart svg [data-value]').count() for c in CARDS}
    assert all(marks.values()), marks
    unfiltered = json.load(urllib.request.urlopen(f"{server}/dashboard/api/data"))
    assert Decimal(page.get_attribute('[data-kpi="gross_sales"]', "data-value")) == \
        Decimal(str(unfiltered["panels"]["kpis"]["values"]["gross_sales"]))

    meta = json.load(urllib.request.urlopen(f"{server}/dashboard/api/meta"))
    countries = meta["countries"][:2]
    page.select_option("#f-from", "2011-02-01")
    page.select_option("#f-to", "2011-07-31")
    page.click("#f-country-btn")
    for c in countries:
        page.locator("#f-country-list label", has_text=c).first.click()
    page.keyboard.press("Escape")
    page.wait_for_function("document.body.dataset.state === 'ready' && "
                           "document.getElementById('f-country-btn').textContent === '2 countries'")
    shown = page.evaluate("CF.dashboard.state.data.panels")
    params = urllib.parse.urlencode([("from", "2011-02-01"), ("to", "2011-07-31")] + [("country", c) for c in countries])
    server_panels = json.load(urllib.request.urlopen(f"{server}/dashboard/api/data?{params}"))["panels"]
    for name, panel in server_panels.items():
        mine = dict(shown[name])
        theirs = dict(panel)
        mine.pop("source", None), theirs.pop("source", None)
        if name == "revenue_weekly":  # distinct customers per week are not in the report's cells
            theirs["rows"] = [{**r, "customers": None} for r in theirs["rows"]]
        assert mine == theirs, name
