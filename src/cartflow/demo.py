"""`cartflow demo`: a fresh project on generated data, run end to end, and the answers
the original systems were built for."""

from __future__ import annotations

import shutil
from pathlib import Path

from cartflow.config import load_project
from cartflow.lake.storage import open_lake
from cartflow.pipeline.run import RunResult, run_pipeline
from cartflow.runtime.progress import Reporter
from cartflow.sandbox.retail_generator import generate_online_retail
from cartflow.scaffold import init_project
from cartflow.serving.sql import query

DEMO_NAME = "cartflow-demo"
"""The demo project's [project] name: `cartflow demo` replaces only a directory holding it."""

QUESTIONS: dict[str, str] = {
    "Monthly revenue": """
        SELECT strftime(period_start, '%Y-%m') AS month, gross_sales, returns, net_revenue, orders,
               customers, avg_order_value
        FROM mart_revenue_monthly ORDER BY period_start""",
    "Quarterly revenue": """
        SELECT strftime(period_start, '%Y') || '-Q' || quarter(period_start) AS quarter, gross_sales,
               returns, net_revenue, orders, customers
        FROM mart_revenue_quarterly ORDER BY period_start""",
    "Top 3 products per season (by revenue)": """
        SELECT season_year, season, rank, stock_code, description, revenue
        FROM mart_top_products_by_season WHERE ranking = 'revenue' AND rank <= 3
        ORDER BY season_year, CASE season WHEN 'winter' THEN 1 WHEN 'spring' THEN 2
                 WHEN 'summer' THEN 3 ELSE 4 END, rank""",
    "Top 10 customers (net revenue)": """
        SELECT customer_id, frequency AS orders, monetary AS net_revenue, segment
        FROM mart_customer_rfm ORDER BY monetary DESC LIMIT 10""",
}


def prepare_demo(directory: Path, scale: float, seed: int, fresh: bool = True) -> Path:
    if fresh and directory.exists():
        shutil.rmtree(directory)
    init_project(directory, name=DEMO_NAME, force=True)
    generate_online_retail(directory / "landing" / "online_retail", scale=scale, seed=seed)
    return directory


def run_demo(directory: Path, reporter: Reporter) -> tuple[RunResult, dict[str, tuple[list[str], list]]]:
    project = load_project(directory)
    result = run_pipeline(project, trigger="demo", reporter=reporter)
    answers = {}
    if result.status == "succeeded":
        storage = open_lake(project)
        answers = {title: query(storage, sql) for title, sql in QUESTIONS.items()}
        from cartflow.sandbox.example_multi_source import run_demo_part  # the multi-source system (issue 3)

        answers.update(run_demo_part(directory / "multi-source", result, reporter))
    return result, answers
