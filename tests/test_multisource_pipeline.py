"""The multi-source system end to end: the seed files through the sandbox's APIs, the real
PostgreSQL and the sales CSV inbox, into silver, quarantine and the conformed gold model.

Every dirty seed row is accounted for with exact counts, computed here by an independent
reading of the rules (docs/multi-source-rules.md). Then time passes in the sources while
the Customer API is down (the run fails and publishes nothing), the API comes back with
transient faults (retries recover), and the next run picks up exactly the changed rows.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from cartflow.lake.storage import open_lake
from cartflow.pipeline.run import run_pipeline
from cartflow.sandbox.control import set_faults
from cartflow.sandbox.multi_generator import seed_path
from cartflow.sandbox.pg_seed import advance_postgres
from multisource_fixtures import make_project, manifests, multi_source_toml, watermark

pytestmark = pytest.mark.slow
UNKNOWN_SK_SQL = "md5('unknown|1900-01-01 00:00:00')"


# -- an independent reading of the rules, for the seed files -----------------------------------
def seed_rows(name: str) -> list[dict[str, Any]]:
    path = seed_path() / name
    if name.endswith(".json"):
        return json.loads(path.read_text())
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def sales_reason(row: dict[str, str]) -> str | None:
    d = row["Transaction_Date"].strip()
    if not d:
        return "missing_field:transaction_date"
    if not (len(d) == 10 and d[4] == "-"):
        a, b, _ = (int(x) for x in d.replace("-", "/").split("/"))
        if "/" in d and a <= 12 and b <= 12 and a != b:
            return "ambiguous_date"  # dashed dates are month-first by the example's rule
    if not row["Price"]:
        return "missing_field:price"
    if int(row["Quantity"]) <= 0:
        return "non_positive_quantity"
    if Decimal(row["Price"]) <= 0:
        return "non_positive_price"
    return None


def transaction_reason(row: dict[str, str]) -> str | None:
    if not row["Transaction_Date"]:
        return "missing_field:transaction_date"
    if not row["Total_Amount"]:
        return "missing_field:total_amount"
    if Decimal(row["Total_Amount"]) < 0:
        return "negative_amount"
    return None


def rate_reasons(rows: list[dict[str, Any]]) -> list[str | None]:
    out: list[str | None] = []
    for r in rows:
        if not r["Date"]:
            out.append("missing_field:rate_date")
        elif r["Exchange_Rate"] is None:
            out.append("missing_field:exchange_rate")
        elif r["Exchange_Rate"] <= 0:
            out.append("non_positive_rate")
        elif r["Currency_Code"] == "USD" and r["Exchange_Rate"] != 1:
            out.append("base_rate_not_one")
        else:
            out.append(None)
    last = {}
    for i, (r, reason) in enumerate(zip(rows, out, strict=False)):
        if reason is None:
            last[(r["Currency_Code"], r["Date"])] = i
    return [("duplicate_rate" if reason is None and last[(r["Currency_Code"], r["Date"])] != i else reason)
            for i, (r, reason) in enumerate(zip(rows, out, strict=False))]


def expected(reasons: list[str | None]) -> tuple[int, dict[str, int]]:
    return sum(r is None for r in reasons), dict(Counter(r for r in reasons if r))


# -- the run -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pipeline(seed_sandbox, pg_dsn, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    from multisource_fixtures import API_KEY, DSN_ENV, KEY_ENV

    mp.setenv(KEY_ENV, API_KEY)
    mp.setenv(DSN_ENV, pg_dsn)
    info = seed_sandbox.info
    recent = (date.today() - timedelta(days=40)).isoformat()
    toml = multi_source_toml(info) + f"""
[sources.live_rates]
kind = "http"
entity = "exchange_rates"
url = "{info.fx_url}/v1/{recent}.."
params = {{ base = "USD", symbols = "EUR,GBP,JPY,AUD" }}
layout = "frankfurter"
"""
    project = make_project(tmp_path_factory.mktemp("multi") / "shop", toml)
    shutil.copy(seed_path() / "sales_data.csv", project.root / "landing" / "sales" / "sales_data.csv")
    first = run_pipeline(project)
    yield {"project": project, "first": first, "info": info, "sandbox": seed_sandbox, "dsn": pg_dsn}
    mp.undo()


def query(project, sql: str) -> list[tuple]:
    with duckdb.connect(str(project.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def silver_and_quarantine(project, entity: str) -> tuple[int, dict[str, int]]:
    good = query(project, f"SELECT count(*) FROM silver.{entity}")[0][0]
    bad = dict(query(project, f"SELECT reason, count(*) FROM silver.quarantine_{entity} GROUP BY 1"))
    return good, bad


def test_the_first_run_succeeds_and_every_batch_reconciles(pipeline) -> None:
    first, project = pipeline["first"], pipeline["project"]
    assert first.status == "succeeded", first.error
    ledger = query(project, "SELECT entity, bronze_rows, silver_rows, quarantine_rows "
                            "FROM silver.reconciliation_entities")
    assert ledger and all(b == s + q for _, b, s, q in ledger)
    assert {e for e, *_ in ledger} == {"customers", "products", "transactions", "sales", "exchange_rates"}
    assert sum(b for e, b, *_ in ledger if e == "customers") == 1000  # 4 pages of 250


def test_every_dirty_seed_row_is_in_silver_or_quarantined_with_a_reason(pipeline) -> None:
    project = pipeline["project"]
    assert silver_and_quarantine(project, "sales") == expected([sales_reason(r) for r in seed_rows("sales_data.csv")])
    assert silver_and_quarantine(project, "transactions") == expected(
        [transaction_reason(r) for r in seed_rows("transactions.csv")])
    good, bad = silver_and_quarantine(project, "exchange_rates")
    seed_good, seed_bad = expected(rate_reasons(seed_rows("exchange_rates.json")))
    assert bad == seed_bad and good == seed_good + query(
        project, "SELECT count(*) FROM silver.exchange_rates WHERE source = 'live_rates'")[0][0]
    assert silver_and_quarantine(project, "customers") == (1000, {})
    assert silver_and_quarantine(project, "products") == (1000, {})
    # the figures the seed README promises, pinned
    assert silver_and_quarantine(project, "sales")[1]["ambiguous_date"] == 122  # 265 minus 27 same-either-way
    assert seed_bad["duplicate_rate"] + seed_bad["missing_field:rate_date"] <= 237 + 24
    for entity in ("sales", "transactions", "exchange_rates"):
        assert query(project, f"SELECT count(*) FROM silver.quarantine_{entity} "
                              "WHERE reason IS NULL OR field IS NULL OR _source_row IS NULL") == [(0,)]


def test_customers_keep_valid_ages_and_make_unknowns_explicit(pipeline) -> None:
    project = pipeline["project"]
    rows = {r[0]: r[1:] for r in query(project, "SELECT customer_id, age, age_status, gender, location, date_joined "
                                                "FROM silver.customers")}
    for c in seed_rows("customer_data.json"):
        age, status, gender, location, joined = rows[str(c["Customer_ID"])]
        assert age == c["Age"] and status == ("valid" if c["Age"] is not None else "unknown")
        assert gender == (c["Gender"] or "Unknown") and location == (c["Location"] or "Unknown")
        assert (joined.isoformat() if joined else "") == c["Date_Joined"]
    assert query(project, "SELECT count(*) FROM silver.customers WHERE age = 0") == [(0,)]
    assert dict(query(project, "SELECT location, count(*) FROM silver.customers WHERE location = 'Unknown' "
                               "GROUP BY 1")) == {"Unknown": 214}
    products = dict(query(project, "SELECT price_status, count(*) FROM silver.products GROUP BY 1"))
    assert products == {"valid": 905, "non_positive": 95}


def test_gold_is_conformed_with_the_source_on_every_row_and_no_line_vanishes(pipeline) -> None:
    project = pipeline["project"]
    facts = dict(query(project, "SELECT source, count(*) FROM gold.fct_order_line GROUP BY 1"))
    assert facts == {"transactions": silver_and_quarantine(project, "transactions")[0],
                     "sales": silver_and_quarantine(project, "sales")[0]}
    assert query(project, "SELECT count(*) FROM gold.fct_order_line WHERE source = 'sales' "
                          f"AND product_sk <> {UNKNOWN_SK_SQL}") == [(0,)]  # product ids 1001-1005: no such product
    assert dict(query(project, "SELECT stock_code, count(*) FROM gold.fct_order_line WHERE source = 'sales' "
                               "GROUP BY 1")).keys() == {"1001", "1002", "1003", "1004", "1005"}
    assert query(project, "SELECT count(*) FROM gold.fct_order_line WHERE source = 'transactions' "
                          f"AND (customer_sk = {UNKNOWN_SK_SQL} OR product_sk = {UNKNOWN_SK_SQL})") == [(0,)]
    for table in ("gold.dim_customer", "gold.dim_product", "gold.fct_order_line"):
        assert query(project, f"SELECT count(*) FROM {table} WHERE source IS NULL") == [(0,)]
    gross = query(project, "SELECT sum(gross_amount) FROM gold.fct_order_line")[0][0]
    assert gross == query(project, "SELECT sum(gross_sales) FROM gold.mart_revenue_monthly")[0][0]
    assert gross == query(project, "SELECT sum(amount_base) FROM silver.transactions")[0][0] + query(
        project, "SELECT sum(amount_base) FROM silver.sales")[0][0]
    catalog = json.loads(open_lake(project).read_bytes("marts/_catalog.json"))
    assert {"fct_order_line", "dim_customer", "quarantine_sales", "quarantine_exchange_rates"} <= set(catalog["tables"])


def test_a_source_that_stays_down_fails_the_run_and_nothing_partial_is_published(pipeline) -> None:
    project, info = pipeline["project"], pipeline["info"]
    storage = open_lake(project)
    published = json.loads(storage.read_bytes("marts/_catalog.json"))["published_at"]
    pipeline["changes"] = advance_postgres(pipeline["dsn"], info.pg_schema, products=4, new_transactions=5,
                                           corrections=3, seed=7)
    pipeline["customers"] = pipeline["sandbox"].customer_store.advance(changes=6, new=2)
    marks = {s: watermark(project, s, e) for s, e in (("customers", "customers"), ("products", "products"))}
    pipeline["before"] = {m.batch_id for m in manifests(project)}
    set_faults(info, "customers", {"down": True})
    try:
        failed = run_pipeline(project)
    finally:
        set_faults(info, "customers", {"down": False})
    assert failed.status == "failed" and "customers" in failed.error and "HTTP 503" in failed.error
    assert info.customers_url in failed.error and "attempt" in failed.error
    assert json.loads(storage.read_bytes("marts/_catalog.json"))["published_at"] == published
    assert watermark(project, "customers", "customers") == marks["customers"]  # it asks again next time
    assert watermark(project, "products", "products") != marks["products"]  # healthy sources landed theirs
    assert "transform" not in failed.stage_seconds and "publish" not in failed.stage_seconds


def test_after_transient_faults_the_next_run_picks_up_exactly_the_changes(pipeline) -> None:
    project, info = pipeline["project"], pipeline["info"]
    changes, customers = pipeline["changes"], pipeline["customers"]
    before = pipeline["before"]  # the failed run's batches landed and waited: they count as this run's
    set_faults(info, "customers", {"fail_next": 2, "fail_status": 503})
    set_faults(info, "fx", {"fail_next": 1, "fail_status": 429, "retry_after_seconds": 0.1})
    result = run_pipeline(project)
    assert result.status == "succeeded", result.error
    new = [m for m in manifests(project) if m.batch_id not in before]
    storage = open_lake(project)
    got = sorted(r["Customer_ID"] for m in new if m.source == "customers"
                 for r in json.loads(storage.read_bytes(m.raw_key))["data"])
    assert got == sorted(customers["changed"] + customers["added"])
    def rows(source: str) -> int:
        key = next(m.raw_key for m in new if m.source == source)
        return query(project, f"SELECT count(*) FROM read_parquet('{storage.uri(key)}')")[0][0]

    assert rows("products") == len(changes.products) and rows("transactions") == len(changes.transactions)
    # SCD2: a changed customer and a re-priced product each have a closed and a current version
    cid = str(customers["changed"][0])
    versions = query(project, f"SELECT is_current, valid_to IS NULL FROM gold.dim_customer WHERE customer_id = '{cid}' "
                              "ORDER BY valid_from")
    assert versions == [(False, False), (True, True)]
    pid = str(changes.products[0])
    assert len(query(project, f"SELECT 1 FROM gold.dim_product WHERE stock_code = '{pid}'")) == 2
    # corrected amounts reach the fact; new ones are converted to USD with the day's rate
    corrected = ", ".join(f"'transactions:{t}'" for t in changes.corrected_transactions)
    assert query(project, f"SELECT count(*) FROM gold.fct_order_line WHERE invoice_no IN ({corrected})") == [
        (len(changes.corrected_transactions),)]
    converted = query(project, "SELECT currency, amount, fx_factor, amount_base FROM silver.transactions WHERE "
                               f"CAST(transaction_id AS INT) IN ({', '.join(map(str, changes.new_transactions))})")
    assert len(converted) == len(changes.new_transactions)
    for currency, amount, factor, amount_base in converted:
        assert amount_base == (amount * factor).quantize(Decimal("0.001")) and (currency != "USD") == (factor != 1)


def test_extracting_again_changes_nothing(pipeline) -> None:
    project = pipeline["project"]
    facts = query(project, "SELECT count(*), sum(net_amount) FROM gold.fct_order_line")
    again = run_pipeline(project)
    assert again.status == "succeeded" and again.new_batches == 0
    assert query(project, "SELECT count(*), sum(net_amount) FROM gold.fct_order_line") == facts
