"""Silver applies the entity contracts (cartflow.entities): reasons, bounds and the date window.

* Every reason code a silver model can emit is declared in its entity's contract, and
  every declared code is emitted (the SQL is parsed for the literals its `reason` CASE
  can produce).
* The macros take their bounds from the contract: editing a `Column` changes silver.
* Hostile values in files, for every entity, through whole pipeline runs: every run
  succeeds (no gold audit fails, nothing overflows), each bad row is in quarantine with
  the right reason, and bronze = silver + quarantine.
"""

from __future__ import annotations

import dataclasses
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

import cartflow.entities as entities
from cartflow.transform.macros.contract import out_of_range, too_long
from cartflow.transform.runner import PROJECT_DIR

STAGING = {name: PROJECT_DIR / "models" / "silver" / f"stg_{name}.sql" for name in entities.ENTITY_NAMES}
REASON_COLUMNS = ("reason", "invalid_reason")


def emitted_reasons(path: Path) -> set[str]:
    """The string literals the model's `reason` expression can evaluate to (THEN/ELSE branches)."""
    from sqlmesh.core.dialect import parse

    codes: set[str] = set()
    for statement in parse(path.read_text(), default_dialect="duckdb"):
        for alias in statement.find_all(exp.Alias):
            if alias.alias not in REASON_COLUMNS:
                continue
            for case in alias.find_all(exp.Case):
                results = [branch.args["true"] for branch in case.args.get("ifs", [])] + [case.args.get("default")]
                codes |= {r.this for r in results if isinstance(r, exp.Literal) and r.is_string}
    return codes


@pytest.mark.parametrize("name", entities.ENTITY_NAMES)
def test_silver_emits_exactly_the_contracts_reasons(name: str) -> None:
    emitted = emitted_reasons(STAGING[name])
    declared = set(entities.entity(name).reason_codes())
    assert emitted - declared == set(), f"stg_{name} emits reasons its contract does not declare"
    assert declared - emitted == set(), f"stg_{name} never emits reasons its contract declares"


def test_the_reason_parser_sees_the_new_reasons() -> None:
    emitted = emitted_reasons(STAGING["order_lines"])
    assert {"out_of_range:invoice_date", "out_of_range:line_amount", "too_long:description",
            "duplicate_row", "stock_note"} <= emitted


def check(macro, value: str, entity_name: str, column: str) -> bool:
    sql = macro(None, exp.Literal.string(value), exp.Literal.string(entity_name),
                exp.Literal.string(column)).sql(dialect="duckdb")
    return duckdb.sql(f"SELECT {sql}").fetchone()[0]


NUMERIC = [(e.name, c) for e in entities.ENTITIES.values() for c in e.columns
           if c.type in ("integer", "decimal") and (c.minimum is not None or c.maximum is not None)]


@pytest.mark.parametrize("entity_name,column", NUMERIC, ids=[f"{e}.{c.name}" for e, c in NUMERIC])
def test_every_bounded_number_is_checked_against_its_contract(entity_name: str, column: entities.Column) -> None:
    for bound in (column.minimum, column.maximum):
        if bound is not None:
            assert check(out_of_range, str(bound), entity_name, column.name) is False
    if column.maximum is not None:
        step = 1 if column.type == "integer" else Decimal(1).scaleb(-(column.scale or 0))
        assert check(out_of_range, str(column.maximum + step), entity_name, column.name) is True
    if column.minimum is not None:
        step = 1 if column.type == "integer" else Decimal(1).scaleb(-(column.scale or 0))
        assert check(out_of_range, str(column.minimum - step), entity_name, column.name) is True
    assert check(out_of_range, "9" * 400, entity_name, column.name) is True  # beyond any SQL number type
    assert check(out_of_range, "abc", entity_name, column.name) is False  # unparseable, not out of range
    if column.type == "integer":
        assert check(out_of_range, "1.5", entity_name, column.name) is False  # a fraction is unparseable


def test_a_contract_edit_changes_silver(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check(too_long, "x" * 32, "order_lines", "invoice_no") is False
    assert check(out_of_range, "2147483647", "order_lines", "quantity") is False
    shorter = dataclasses.replace(
        entities.ORDER_LINES,
        columns=tuple(dataclasses.replace(c, max_length=8) if c.name == "invoice_no"
                      else dataclasses.replace(c, maximum=1000) if c.name == "quantity" else c
                      for c in entities.ORDER_LINES.columns))
    monkeypatch.setitem(entities.ENTITIES, "order_lines", shorter)
    assert check(too_long, "x" * 9, "order_lines", "invoice_no") is True
    assert check(out_of_range, "1001", "order_lines", "quantity") is True


def test_a_check_on_a_column_the_contract_does_not_bound_fails_loudly() -> None:
    with pytest.raises(ValueError, match="no max_length"):
        check(too_long, "x", "order_lines", "quantity")
    with pytest.raises(KeyError, match="no column"):
        check(too_long, "x", "order_lines", "colour")


# -- hostile files through whole runs ---------------------------------------------------------

LONG = "x" * 1001
ORDER_LINES = [  # (row text, expected reason or None)
    ("536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom", None),
    ("536366,85123A,HEART,6,2010-12-01T09:26:00+01:00,2.55,17850,United Kingdom", None),
    ("536367,85123A,HEART,1,9999-12-31T23:59:00,2.55,17850,United Kingdom", "out_of_range:invoice_date"),
    ("536368,85123A,HEART,1,12/31/9999 23:59,2.55,17850,United Kingdom", "out_of_range:invoice_date"),
    ("536369,85123A,HEART,1,12/1/1989 8:26,2.55,17850,United Kingdom", "out_of_range:invoice_date"),
    ("536370,85123A,HEART,10000000000000000000,12/1/2010 8:26,2.55,17850,United Kingdom", "out_of_range:quantity"),
    # order lines take no scientific notation (Column.scientific), as at the API: 1E+25 is no price
    ("536371,85123A,HEART,1,12/1/2010 8:26,1E+25,17850,United Kingdom", "unparseable:unit_price"),
    ("536376,85123A,HEART,1E+2,12/1/2010 8:26,2.55,17850,United Kingdom", "unparseable:quantity"),
    ("536377,85123A,HEART,1,12/1/2010 8:26,2.55,1.785E+4,United Kingdom", "unparseable:customer_id"),
    ("536372,85123A,HEART,1,12/1/2010 8:26,2.55,99999999999999999999,United Kingdom", "out_of_range:customer_id"),
    ("536373,85123A,HEART,2000000000,12/1/2010 8:26,999999999999.999,17850,United Kingdom",
     "out_of_range:line_amount"),
    (f"536374,85123A,{LONG},1,12/1/2010 8:26,2.55,17850,United Kingdom", "too_long:description"),
    ("536375,85123A,HEART,1,12/1/2010 8:26,2.55,9223372036854775807,United Kingdom", None),
]
CUSTOMERS = [
    ("c1,Ann,ann@example.com,40,F,Leeds,United Kingdom,2010-01-01,2010-12-01 10:00:00", None),
    (f"{'c' * 200},Bob,,,,,,,", "too_long:customer_id"),
    ("c2,Cy,,,,,,,9999-12-31T00:00:00", "out_of_range:updated_at"),
    (f"c3,{'n' * 600},,1000,,,,1900-01-01,2010-12-01T10:00:00Z", None),
]
PRODUCTS = [
    ("p1,Lamp,Home,10.00,5,GBP,2010-12-01 10:00:00", None),
    ("p2,Mug,Home,1E+30,1E+25,POUNDS,2010-12-01 10:00:00", None),
    ("p3,Cup,Home,1.00,1,GBP,2999-01-01 00:00:00", "out_of_range:updated_at"),
]
TRANSACTIONS = [
    ("t1,c1,p1,2,2010-12-01,20.00,GBP,", None),
    ("t2,c1,p1,99999999999,2010-12-01,20.00,GBP,", "out_of_range:quantity"),
    ("t3,c1,p1,1,2010-12-01,1E+20,GBP,", "out_of_range:total_amount"),
    ("t4,c1,p1,1,9999-12-31,1.00,GBP,", "out_of_range:transaction_date"),
    ("t5,c1,p1,1,2010-12-01,1.00,XYZ,", "missing_exchange_rate"),
    ("t6,c1,p1,1,2010-12-01T23:30:00-05:00,1.00,EUR,", None),
]
SALES = [
    ("s1,p1,2,3.00,2010-12-01,GBP", None),
    ("s2,p1,2000000000,999999999999,2010-12-01,GBP", "out_of_range:price"),
    ("s3,p1,1,3.00,2999-01-01,GBP", "out_of_range:transaction_date"),
]
RATES = [
    ("GBP,EUR,1.1,2010-12-01", None),
    ("GBP,USD,1.5,9999-12-31", "out_of_range:rate_date"),
    ("GBP,XYZ,0.0000000001,2010-12-01", None),  # a factor DECIMAL(18,12) cannot hold: no rate, no crash
]
FILES = {  # source: (entity, header, rows)
    "customer_files": ("customers", "customer_id,customer_name,email,age,gender,location,country,date_joined,"
                       "updated_at", CUSTOMERS),
    "product_files": ("products", "product_id,product_name,category,price,stock_available,currency,updated_at",
                      PRODUCTS),
    "transaction_files": ("transactions", "transaction_id,customer_id,product_id,quantity,transaction_date,"
                          "total_amount,currency,updated_at", TRANSACTIONS),
    "sale_files": ("sales", "transaction_id,product_id,quantity,price,transaction_date,currency", SALES),
    "rate_files": ("exchange_rates", "base_currency,currency_code,exchange_rate,rate_date", RATES),
}
KEY = {"order_lines": "invoice_no", "customers": "customer_id", "products": "product_id",
       "transactions": "transaction_id", "sales": "transaction_id", "exchange_rates": "currency_code"}


def _write(path: Path, header: str, rows: list[tuple[str, str | None]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\r\n".join([header, *(r for r, _ in rows)]) + "\r\n", encoding="latin-1")


def _quarantine(con: duckdb.DuckDBPyConnection, entity: str) -> dict[str, str]:
    key = KEY[entity]
    return dict(con.execute(f"SELECT {key}, reason FROM silver.quarantine_{entity}").fetchall())


@pytest.mark.slow
def test_hostile_values_in_every_entity_are_quarantined_and_every_run_succeeds(tmp_path: Path) -> None:
    from cartflow.config import load_project
    from cartflow.pipeline.run import run_pipeline
    from cartflow.scaffold import init_project

    root = tmp_path / "p"
    init_project(root)
    config = root / "cartflow.toml"
    config.write_text(config.read_text() + "".join(
        f'\n[sources.{source}]\nkind = "files"\nentity = "{entity}"\npath = "landing/{source}"\ncurrency = "GBP"\n'
        for source, (entity, _, _) in FILES.items()))
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    _write(root / "landing" / "online_retail" / "day1.csv", header, ORDER_LINES)
    for source, (entity, columns, rows) in FILES.items():
        _write(root / "landing" / source / f"{entity}.csv", columns, rows)
    project = load_project(root)

    first = run_pipeline(project)
    assert first.status == "succeeded", first.error
    # the case of the issue: one more file after a poisoned one, and the run still succeeds
    later = [("536400,22728,CLOCK,1,12/2/2010 9:00,3.75,17850,United Kingdom", None),
             ("536401,22728,CLOCK,1,12/31/9999 23:59,3.75,12583,France", "out_of_range:invoice_date")]
    _write(root / "landing" / "online_retail" / "day2.csv", header, later)
    second = run_pipeline(project)
    assert second.status == "succeeded", second.error

    expected = {"order_lines": ORDER_LINES + later, **{e: rows for e, _, rows in FILES.values()}}
    with duckdb.connect(str(project.warehouse_path), read_only=True) as con:
        for entity, rows in expected.items():
            keys = [r.split(",", 1)[0] if entity != "exchange_rates" else r.split(",")[1] for r, _ in rows]
            bad = {k: reason for k, (_, reason) in zip(keys, rows, strict=False) if reason}
            assert _quarantine(con, entity) == bad, entity
            kept = con.execute(f"SELECT count(*) FROM silver.{entity}").fetchone()[0]
            assert kept + len(bad) == len(rows), f"{entity}: bronze != silver + quarantine"
        latest = con.execute("SELECT max(invoice_ts) FROM gold.fct_order_line").fetchone()[0]
        assert latest.year == 2010  # nothing from the year 9999 reached gold
        issues = dict(con.execute("SELECT customer_id, issues FROM silver.customers").fetchall())
        assert {"name:too_long", "age:invalid", "date_joined:out_of_range"} <= set(issues["c3"].split(","))
        product = con.execute("SELECT list_price, price_status, stock_available, stock_status, currency, issues "
                              "FROM silver.products WHERE product_id = 'p2'").fetchone()
        assert product[:5] == (None, "out_of_range", None, "out_of_range", "GBP") and "currency:invalid" in product[5]
        when = dict(con.execute("SELECT invoice_no, invoice_ts FROM silver.order_lines").fetchall())
        assert str(when["536366"]) == "2010-12-01 08:26:00"  # +01:00 converted to the shop's zone (UTC)
        day = con.execute("SELECT transaction_date FROM silver.transactions WHERE transaction_id = 't6'").fetchone()
        assert str(day[0]) == "2010-12-02"  # 23:30 at -05:00 is the next day in UTC
        revenue = con.execute("SELECT sum(gross_sales) FROM gold.mart_revenue_daily").fetchone()[0]
        assert revenue is not None
    shutil.rmtree(root / "lake", ignore_errors=True)
