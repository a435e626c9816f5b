"""`cartflow sql`: ad-hoc SQL over the published tables (the Athena role).

Each published table is a view under its bare name, over its Parquet in the lake. The
warehouse file is never opened here: readers and the single writer never contend.

It is the analyst's read-only window, enforced twice. DuckDB's own parser classifies
every statement of the text (`duckdb.extract_statements`): only queries (SELECT, WITH,
VALUES, FROM, SHOW, DESCRIBE, SUMMARIZE, PRAGMA reads) and EXPLAIN run; COPY, ATTACH,
INSTALL/LOAD, SET, CREATE, DROP, INSERT, EXPORT… are refused with one line saying so.
Then, once the views exist, the connection loses file and network access beyond the
published Parquet files (`enable_external_access = false` with `allowed_paths`) and
its configuration is locked, so a query cannot `read_csv('/etc/passwd')` either.
`unsafe=True` (`cartflow sql --unsafe`) lifts both.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from cartflow.lake.marts import published_tables
from cartflow.lake.storage import Storage

READ_ONLY = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})


class QueryError(Exception):
    """The query failed; the message carries DuckDB's explanation and the tables available."""


class RefusedStatement(QueryError):
    """A statement that would write, change the session or reach outside the marts (without `--unsafe`)."""


def connect(storage: Storage, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per published table; `read_only` then locks it to those files."""
    con = duckdb.connect()
    storage.prepare_duckdb(con)
    tables = published_tables(storage)
    for name, uri in tables.items():
        con.execute(f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{uri}')")
    if read_only:
        con.execute(f"SET allowed_paths = {string_list(sorted(tables.values()))}")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


def string_list(values: list[str]) -> str:
    """A DuckDB list literal of strings (quotes doubled).

    Not a bound parameter: DuckDB's Python client imports pandas (and numpy) to inspect
    any bound value, which cost `cartflow sql` ~0.4 s of its ~1 s.
    """
    return "[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


def check_read_only(sql: str) -> None:
    """Refuse any statement DuckDB's parser does not classify as a query or EXPLAIN."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from None
    for number, statement in enumerate(statements, start=1):
        if statement.type not in READ_ONLY:
            kind = statement.type.name
            where = f" (statement {number})" if len(statements) > 1 else ""
            raise RefusedStatement(
                f"`cartflow sql` is read-only and refuses {kind} statements{where}: only queries (SELECT, WITH, "
                "SHOW, DESCRIBE, EXPLAIN …) run over the marts; pass --unsafe to allow them")


def query(storage: Storage, sql: str, *, unsafe: bool = False) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns and rows of `sql` over the published tables; read-only unless `unsafe`."""
    if not unsafe:
        check_read_only(sql)
    con = connect(storage, read_only=not unsafe)
    try:
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description or []]
        return columns, cur.fetchall()
    except duckdb.PermissionException as exc:
        raise RefusedStatement(f"{_first_line(exc)}: `cartflow sql` reads only the published marts; pass --unsafe "
                               "to read other files") from None
    except duckdb.Error as exc:
        tables = ", ".join(sorted(published_tables(storage))) or "none yet — run `cartflow run`"
        raise QueryError(f"{exc}\nTables you can query: {tables}") from None
    finally:
        con.close()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


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
    return json.dumps([{c: _plain(v) for c, v in zip(columns, r, strict=False)} for r in rows], indent=2)
