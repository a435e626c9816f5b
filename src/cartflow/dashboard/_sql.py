"""Run one aggregate query and hand back JSON-ready records.

Money stays DECIMAL inside DuckDB; only the final, already aggregated values become
JSON numbers (a DECIMAL(18,3) survives the trip through a float exactly).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from cartflow.dashboard.filters import Filter


def plain(value: Any) -> Any:
    """A JSON-ready value: numbers as numbers, dates as ISO strings."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    return value


def records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    columns = [d[0] for d in cur.description or []]
    return [{c: plain(v) for c, v in zip(columns, row, strict=False)} for row in cur.fetchall()]


def filtered(f: Filter, table: str = "fct_order_line", alias: str = "l",
             date_col: str = "invoice_date", country_col: str = "country") -> str:
    """`(SELECT * FROM table WHERE <filter>)`, to use as a subquery."""
    return f"(SELECT * FROM {table} AS {alias} WHERE {f.where(f'{alias}.{date_col}', f'{alias}.{country_col}')})"


def money_div(numerator: str, denominator: str) -> str:
    """SQL for DECIMAL / count rounded half up to 3 decimals, as the marts' @money_div does.

    DuckDB would turn the division into a DOUBLE; averages shown next to the marts'
    must match them to the last digit, so the division runs on integer thousandths.
    """
    milli = f"CAST(({numerator}) * 1000 AS BIGINT)"
    den = f"CAST(({denominator}) AS BIGINT)"
    return (f"CASE WHEN {den} > 0 THEN CAST(SIGN({milli}) * ((2 * ABS({milli}) + {den}) // (2 * {den})) "
            f"AS DECIMAL(18, 0)) * CAST('0.001' AS DECIMAL(4, 3)) END")
