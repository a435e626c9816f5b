"""The orders/customers/products example: three seed files and a products REST API.

The original (Airflow, Glue, Snowflake, dbt) loaded `orders.csv`, `customers.json` and
`products.csv`, plus products from a public REST API, into an SCD2 customer dimension
and an incremental orders fact. Here: the three files are dropped into the lake's
landing inbox, the sandbox serves the products API (bearer token), and cartflow runs
twice: once on the seed, once after a customer moved city (a corrected customers file
is dropped) and the API re-priced a product, which is what the SCD2 dimensions keep.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartflow.lake.storage import open_lake
from cartflow.pipeline.run import RunResult, run_pipeline
from cartflow.runtime.progress import QuietReporter, Reporter

TOKEN_ENV = "OCP_PRODUCTS_API_TOKEN"

TOML = """# The orders/customers/products system (seed: cartflow/sandbox/seed_data/orders_customers_products).
[project]
name = "orders-customers-products"

[currency]
base = "USD"

# Three file drops; each file goes into <lake>/landing/<source>/ and is taken once.
[sources.orders]
kind = "files"
entity = "transactions"      # order_id, customer_id, product_id, order_date, quantity, amount
path = "landing/orders"
currency = "USD"

[sources.customers]
kind = "files"
entity = "customers"         # customer_id, customer_name, email, city
format = "json"
path = "landing/customers"

[sources.products]
kind = "files"
entity = "products"          # product_id, product_name, category, price
path = "landing/products"
currency = "USD"

# The public products REST API: bearer token from the environment, pages of 50.
[sources.products_api]
kind = "http"
entity = "products"
url = "{products_url}"
records_path = "products"
auth = {{ type = "bearer", token_env = "{token_env}" }}
pagination = {{ style = "page", page_size = 50 }}
currency = "USD"
"""

QUESTIONS: dict[str, str] = {
    "Orders (incremental fact)": """
        SELECT invoice_no AS order_id, customer_id, invoice_date AS order_date, items AS quantity,
               gross_amount AS amount
        FROM fct_order ORDER BY invoice_no""",
    "Revenue per customer": """
        SELECT f.customer_id, c.customer_name, c.location AS city, count(*) AS orders, sum(f.gross_amount) AS revenue
        FROM fct_order_line f JOIN dim_customer c ON f.customer_sk = c.customer_sk
        GROUP BY ALL ORDER BY revenue DESC""",
    "Revenue per product and category": """
        SELECT f.stock_code AS product_id, p.description AS product_name, p.category, sum(f.quantity) AS units,
               sum(f.gross_amount) AS revenue
        FROM fct_order_line f JOIN dim_product p ON f.product_sk = p.product_sk
        GROUP BY ALL ORDER BY revenue DESC""",
    "Customer dimension (SCD2 history)": """
        SELECT customer_id, customer_name, email, location AS city, version, is_current, source
        FROM dim_customer WHERE customer_id <> 'unknown' ORDER BY customer_id, version""",
    "Product dimension (SCD2 history)": """
        SELECT stock_code AS product_id, description AS product_name, category, list_price, version, is_current, source
        FROM dim_product WHERE stock_code <> 'unknown' ORDER BY stock_code, valid_from""",
}

MOVED = [{"customer_id": "C001", "customer_name": "Amit Sharma", "email": "amit@gmail.com", "city": "Mumbai"}]


@dataclass
class OcpRun:
    project_dir: Path
    results: list[RunResult] = field(default_factory=list)
    answers: dict[str, tuple[list[str], list[Any]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.status == "succeeded" for r in self.results)


def run_example(directory: Path, *, port_base: int = 0, reporter: Reporter | None = None) -> OcpRun:
    """Run the seed, then the changes; answer the questions from the published tables.

    `port_base` 0 (the default) serves the sandbox on free ports: it lives only as long as this call.
    """
    from cartflow.config import load_project
    from cartflow.sandbox.control import advance_products
    from cartflow.sandbox.multi_generator import seed_path
    from cartflow.sandbox.server import Sandbox, SandboxOptions
    from cartflow.serving.sql import query

    token = "ocp-example-token"
    options = SandboxOptions(ports=_ports(port_base),
                             products_token=token, seed_only=True, postgres="none", data_dir=directory / ".sandbox")
    run = OcpRun(directory)
    with Sandbox(options) as sandbox:
        assert sandbox.info is not None
        os.environ[TOKEN_ENV] = token
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cartflow.toml").write_text(TOML.format(products_url=sandbox.info.products_url,
                                                             token_env=TOKEN_ENV), encoding="utf-8")
        for name in ("orders", "customers", "products"):
            (directory / "landing" / name).mkdir(parents=True, exist_ok=True)
        project = load_project(directory)
        lake = open_lake(project)
        seed = seed_path("orders_customers_products")
        for source, file in (("orders", "orders.csv"), ("customers", "customers.json"), ("products", "products.csv")):
            lake.write_bytes(f"landing/{source}/{file}", (seed / file).read_bytes())
        run.results.append(run_pipeline(project, trigger="example", reporter=reporter or QuietReporter()))
        if not run.ok:
            return run
        lake.write_bytes("landing/customers/customers_update.json", json.dumps(MOVED, indent=2).encode())
        advance_products(sandbox.info, changes=1)
        run.results.append(run_pipeline(project, trigger="example", reporter=reporter or QuietReporter()))
        if run.ok:
            run.answers = {title: query(lake, sql) for title, sql in QUESTIONS.items()}
    return run


def _ports(base: int) -> dict[str, int]:
    """Fixed ports N, N+1, N+2 (easy to find while it runs), or free ones for 0."""
    return {"customers": base, "fx": base + 1 if base else 0, "products": base + 2 if base else 0}
