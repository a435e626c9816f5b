"""The entity models' building blocks, and the orders/customers/products example end to end."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from sqlglot import exp

from cartflow.config import parse_config
from cartflow.lake.bronze import bronze_schema
from cartflow.transform.entity_defaults import EMPTY_DIR, ENTITIES
from cartflow.transform.inputs import SETTINGS_SCHEMA
from cartflow.transform.macros.dates import day_reading, parse_day

RULES = ("slash", "dash", "dot", "ambiguous")


def read(text: str | None, slash="infer", dash="infer", dot="infer", ambiguous="quarantine") -> tuple:
    args = [exp.Literal.string(text) if text is not None else exp.null()] + [
        exp.Literal.string(v) for v in (slash, dash, dot, ambiguous)]
    day = parse_day(None, *args).sql(dialect="duckdb")
    how = day_reading(None, *args).sql(dialect="duckdb")
    got = duckdb.sql(f"SELECT CAST({day} AS VARCHAR), {how}").fetchone()
    spark = parse_day(None, *args).sql(dialect="spark")
    assert "TRY_CAST" in spark.upper() and "REGEXP_EXTRACT" in spark.upper()  # transpiles to Spark functions
    return got


@pytest.mark.parametrize("text,rules,expected", [
    ("2022-07-27", {}, ("2022-07-27", "iso")),
    ("2022-07-27 10:15:00", {}, ("2022-07-27", "iso")),
    ("27/07/2022", {}, ("2022-07-27", "day_first")),
    ("07/27/2022", {}, ("2022-07-27", "month_first")),
    ("05/05/2022", {}, ("2022-05-05", "same_either_way")),
    ("03/04/2022", {}, (None, "ambiguous")),
    ("03/04/2022", {"ambiguous": "day_first"}, ("2022-04-03", "ambiguous_read_day_first")),
    ("03-04-2022", {"dash": "month_first"}, ("2022-03-04", "month_first_by_rule")),
    ("27-07-2022", {"dash": "month_first"}, (None, "unparseable")),
    ("3.4.2022", {"dot": "day_first"}, ("2022-04-03", "day_first_by_rule")),
    ("31/02/2022", {}, (None, "unparseable")),
    ("", {}, (None, "missing")),
    (None, {}, (None, "missing")),
    ("yesterday", {}, (None, "unparseable")),
])
def test_dates_are_read_by_the_written_rules_never_guessed(text, rules, expected) -> None:
    assert read(text, **rules) == expected


def test_the_packaged_empty_inputs_match_the_bronze_schemas() -> None:
    for entity in ENTITIES:
        assert pq.read_schema(EMPTY_DIR / f"{entity}.parquet").names == bronze_schema(entity).names, entity
    assert pq.read_schema(EMPTY_DIR / "source_settings.parquet").names == SETTINGS_SCHEMA.names
    assert pq.read_table(EMPTY_DIR / "pending.parquet").num_rows == 0


def test_the_multi_source_example_config_is_valid() -> None:
    import tomllib

    from cartflow.sandbox.example_multi_source import LIVE_RATES, SEED_RATES, TOML

    class Info:
        customers_url, fx_url, pg_schema = "http://127.0.0.1:1/customers", "http://127.0.0.1:2", "multi_source"

    for rates in (SEED_RATES, LIVE_RATES):
        text = TOML.format(customers_url=Info.customers_url, fx_url=Info.fx_url, key_env="K", dsn_env="D",
                           schema=Info.pg_schema, rates=rates.format(fx_url=Info.fx_url))
        config = parse_config(tomllib.loads(text))
        assert set(config.sources) == {"customers", "exchange_rates", "products", "transactions", "sales"}
        assert config.sources["sales"].dates.dash == "month_first"


@pytest.mark.slow
def test_the_orders_customers_products_example_runs_and_keeps_history(tmp_path: Path) -> None:
    from cartflow.sandbox.example_ocp import run_example

    run = run_example(tmp_path / "ocp", port_base=0)
    assert run.ok, [r.error for r in run.results]
    assert [r.new_batches for r in run.results] == [4, 2]
    orders = run.answers["Orders (incremental fact)"][1]
    assert [(o[0], float(o[4])) for o in orders] == [("orders:O1001", 1200), ("orders:O1002", 2400),
                                                     ("orders:O1003", 800), ("orders:O1004", 3600)]
    customers = [(r[0], r[3], r[4], r[5]) for r in run.answers["Customer dimension (SCD2 history)"][1]]
    assert customers[:2] == [("C001", "Kolkata", 1, False), ("C001", "Mumbai", 2, True)] and len(customers) == 4
    products = run.answers["Product dimension (SCD2 history)"][1]
    assert len(products) == 4 and sum(1 for p in products if p[-1] == "products_api") == 1
    revenue = {r[0]: float(r[-1]) for r in run.answers["Revenue per customer"][1]}
    assert revenue == {"C001": 2000.0, "C002": 2400.0, "C003": 3600.0}
