"""`cartflow sql`: ad-hoc SQL over the published tables (the Athena role).

Each published table is a view under its bare name, over its Parquet in the lake. The
warehouse file is never opened here: readers and the single writer never contend.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from cartflow.lake.storage import Storage
from cartflow.lake.marts import published_tables


class QueryError(Exception):
    """The query failed; the message carries DuckDB's explanation and the tables available."""


def connect(storage: Storage) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    prepare = getattr(storage, "prepare_duckdb", None)
    if prepare:
        prepare(con)
    for name, uri in published_tables(storage).items():
        con.execute(f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{uri}')")
    return con


def query(storage: Storage, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    con = connect(storage)
    try:
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description or []]
        return columns, cur.fetchall()
    except duckdb.Error as exc:
        tables = ", ".join(sorted(published_tables(storage))) or "none yet — run `cartflow run`"
        raise QueryError(f"{exc}\nTables you can query: {tables}") from None
    finally:
        con.close()


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return v


def to_csv(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    w.writerows([[_plain(v) for v in r] for r in rows])
    return buf.getvalue()


def to_json(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    return json.dumps([{c: _plain(v) for c, v in zip(columns, r)} for r in rows], indent=2)
