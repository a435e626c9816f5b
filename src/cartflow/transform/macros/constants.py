"""Named constants of the star schema, one definition each.

The unknown member stands for a fact whose customer or product is absent or matches no
dimension row: id 'unknown', valid from 1900-01-01, never closed; its surrogate key is
MD5('unknown|1900-01-01 00:00:00') like any version's (MD5(id|valid_from)). The open end
is the far-future bound a current version's `valid_to` (NULL) stands for in as-of joins:
with `valid_to IS NULL OR ...` in a join condition DuckDB falls back to a nested-loop
join (minutes at 500k lines), with a bound it hashes.
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro

UNKNOWN_ID = "unknown"
UNKNOWN_FROM = "1900-01-01 00:00:00"
OPEN_END = "9999-12-31 00:00:00"


@macro()
def unknown_id(evaluator) -> exp.Expression:
    """'unknown': the business id of the unknown member."""
    return exp.Literal.string(UNKNOWN_ID)


@macro()
def unknown_from(evaluator) -> exp.Expression:
    """When the unknown member's only version starts: before any fact."""
    return exp.cast(exp.Literal.string(UNKNOWN_FROM), "TIMESTAMP")


@macro()
def unknown_sk(evaluator) -> exp.Expression:
    """The unknown member's surrogate key: MD5('unknown|1900-01-01 00:00:00')."""
    return exp.Anonymous(this="MD5", expressions=[exp.Literal.string(f"{UNKNOWN_ID}|{UNKNOWN_FROM}")])


@macro()
def open_end(evaluator) -> exp.Expression:
    """The bound that stands for 'not closed yet' in as-of joins."""
    return exp.cast(exp.Literal.string(OPEN_END), "TIMESTAMP")
