"""Quarantine reasons are said once: the entity contract names each code and the field it points at.

Silver's `field` column is generated from the contract (`@reason_field`), and every code a
staging model can emit must be one the contract declares, so the API's dead letters, silver's
quarantine and the docs cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

import cartflow.entities as entities
from cartflow.transform.macros.contract import reason_field

SILVER = Path(entities.__file__).resolve().parent.parent / "transform" / "models" / "silver"
REASON_BLOCK = re.compile(r"CASE(?:(?!CASE).)*?END\)? AS (?:invalid_)?reason\b", re.S)
CODE = re.compile(r"THEN '([^']+)'")


def _render(entity: str) -> str:
    fn = getattr(reason_field, "__wrapped__", reason_field)
    return fn(None, exp.column("reason"), exp.Literal.string(entity)).sql(dialect="duckdb")


@pytest.mark.parametrize("name", entities.ENTITY_NAMES)
def test_the_field_of_every_reason_comes_from_the_contract(name: str) -> None:
    contract = entities.entity(name)
    case = _render(name)
    db = duckdb.connect()
    for r in (*contract.reasons, entities.Reason("not_a_reason_code", "unknown")):
        got = db.execute(f"SELECT {case} FROM (SELECT ? AS reason)", [r.code]).fetchone()[0]
        assert got == r.field, (name, r.code)


@pytest.mark.parametrize("name", entities.ENTITY_NAMES)
def test_every_code_a_staging_model_emits_is_in_its_contract(name: str) -> None:
    sql = (SILVER / f"stg_{name}.sql").read_text()
    blocks = REASON_BLOCK.findall(sql)
    emitted = {code for block in blocks for code in CODE.findall(block)}
    assert blocks and emitted, f"stg_{name}.sql: no reason CASE found"
    assert f"@reason_field(reason, '{name}')" in sql
    unknown = emitted - set(entities.entity(name).reason_codes())
    assert not unknown, f"stg_{name}.sql emits codes its contract does not declare: {sorted(unknown)}"
