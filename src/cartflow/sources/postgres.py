"""The `postgres` source: a table or a query, full or incremental, landed in raw as Parquet.

Rows stream from a server-side cursor in chunks of `chunk_rows`, each written as one
Parquet row group to a temporary file: a table of any size never sits in memory.
The extract reads one REPEATABLE READ, READ ONLY snapshot, in a stable order (the
watermark column, then `key`), so an unchanged table gives the same bytes and hence the
same batch id: extracting again lands nothing new.

Incremental: `WHERE col > watermark - lookback`. The look-back re-reads rows committed
late with an older watermark value; the rows it re-reads are deduplicated in silver.
Atomicity: the Parquet file is landed only once the cursor is exhausted, and the
watermark moves only after the landing. A dropped connection or a failing query
mid-stream lands nothing and leaves the watermark where it was.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from cartflow.config import PostgresSource
from cartflow.lake.raw import land_file
from cartflow.lake.storage import Storage
from cartflow.runtime.progress import Reporter
from cartflow.runtime.retry import RetryPolicy
from cartflow.runtime.state import StateStore
from cartflow.sources.errors import SourceError

log = logging.getLogger(__name__)

_INTS = {"int2", "int4", "int8", "oid"}
_FLOATS = {"float4", "float8"}
_TEMPORAL = {"date", "timestamp", "timestamptz"}
_NUMERIC = _INTS | _FLOATS | {"numeric"}

#: called after each chunk with (chunks so far, rows so far): progress bars, and a test seam
OnChunk = Callable[[int, int], None]


@dataclass
class PgExtract:
    rows: int = 0
    chunks: int = 0
    landed: int = 0
    watermark: str | None = None
    seconds: float = 0.0


def extract_postgres(storage: Storage, state: StateStore, reporter: Reporter, name: str, source: PostgresSource,
                     run_id: str | None, *, on_chunk: OnChunk | None = None,
                     sleep: Callable[[float], None] = time.sleep) -> PgExtract:
    """Stream the table/query to Parquet, land it, then advance the watermark."""
    t0 = time.perf_counter()
    what = source.table or "query"
    previous = state.watermark(name, source.entity) if source.incremental else None
    if source.incremental and previous is None:
        previous = source.incremental.initial
    stage = reporter.stage(f"extract {name}")
    result = PgExtract()
    with tempfile.TemporaryDirectory(prefix="cf-pg-") as tmp:
        out = Path(tmp) / f"{(source.table or name).replace('.', '_')}.parquet"
        conn = connect(name, source, sleep=sleep)
        try:
            _stream(conn, name, source, previous, out, result, stage, on_chunk)
        except psycopg.OperationalError as exc:  # the connection broke mid-extract
            raise SourceError(f"source {name!r}: the connection to PostgreSQL broke while reading {what} after "
                              f"{result.rows:,} row(s) ({_first_line(exc)}); nothing was landed and the "
                              "watermark did not move; the run retries the source", retryable=True) from None
        except psycopg.Error as exc:
            raise SourceError(f"source {name!r}: PostgreSQL refused the extract of {what}: {_first_line(exc)}; "
                              "fix table/query/incremental.column in cartflow.toml", retryable=False) from None
        finally:
            _close(conn)
        if result.rows:
            manifest = land_file(storage, state, source=name, entity=source.entity, path=out, run_id=run_id,
                                 watermark=result.watermark)
            result.landed = 1 if manifest else 0
    if source.incremental and result.watermark and result.watermark != previous:
        state.set_watermark(name, source.entity, result.watermark)
    result.seconds = time.perf_counter() - t0
    stage.done(f"{result.rows:,} row(s) in {result.chunks} chunk(s), {result.landed} new batch(es)")
    log.info("source %s: %d row(s) from %s in %.2fs (%.0f rows/s), %d new batch(es)", name, result.rows, what,
             result.seconds, result.rows / result.seconds if result.seconds else 0, result.landed,
             extra={"source": name, "rows": result.rows})
    return result


def connect(name: str, source: PostgresSource, *, sleep: Callable[[float], None] = time.sleep) -> psycopg.Connection:
    """A connection, retried with backoff and jitter while the server refuses or is starting."""
    dsn = resolve_dsn(name, source)
    policy = RetryPolicy(attempts=source.connect_attempts, backoff_seconds=source.backoff_seconds,
                         max_backoff_seconds=source.max_backoff_seconds, jitter=0.5)
    timeout = source.statement_timeout_seconds
    options = f"-c statement_timeout={timeout * 1000}" if timeout else None
    extra: dict[str, Any] = {"options": options} if options else {}
    attempt = 0
    while True:
        attempt += 1
        try:
            return psycopg.connect(dsn, connect_timeout=source.connect_timeout_seconds,
                                   application_name=f"cartflow:{name}", **extra)
        except psycopg.OperationalError as exc:
            if attempt >= policy.attempts:
                raise SourceError(f"source {name!r}: cannot connect to PostgreSQL after {attempt} attempt(s): "
                                  f"{_first_line(exc)}; check the server and the DSN in "
                                  f"{'dsn' if source.dsn else source.dsn_env}", retryable=True) from None
            wait = policy.delay(attempt, random.Random())
            log.warning("source %s: cannot connect (%s); retry %d/%d in %.2fs", name, _first_line(exc), attempt,
                        policy.attempts - 1, wait, extra={"source": name, "attempt": attempt})
            sleep(wait)


def resolve_dsn(name: str, source: PostgresSource) -> str:
    if source.dsn:
        return source.dsn
    dsn = os.environ.get(source.dsn_env)
    if not dsn:
        raise SourceError(f"source {name!r}: the env var {source.dsn_env} (dsn_env) is not set: export the "
                          "PostgreSQL connection string, e.g. postgresql://user:password@host:5432/db",
                          retryable=False)
    return dsn


def _stream(conn: psycopg.Connection, name: str, source: PostgresSource, previous: str | None, out: Path,
            result: PgExtract, stage: Any, on_chunk: OnChunk | None) -> None:
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot for the whole extract
    conn.read_only = True
    base = _base(source)
    with conn.cursor() as probe:
        probe.execute(sql.SQL("SELECT * FROM {} AS q LIMIT 0").format(base))
        described = [(d.name, _type_name(conn, d.type_code)) for d in probe.description or []]
    columns = [c for c, _ in described]
    types = dict(described)
    order = _order(name, source, columns)
    where: sql.Composable = sql.SQL("")
    params: dict[str, Any] = {}
    inc = source.incremental
    if inc:
        if inc.column not in types:
            raise SourceError(f"source {name!r}: incremental.column {inc.column!r} is not a column of "
                              f"{source.table or 'the query'} (columns: {', '.join(columns)})", retryable=False)
        if previous is not None:
            where, params = _since(inc.column, types[inc.column], previous, inc.lookback)
    query = sql.SQL("SELECT * FROM {} AS q{} ORDER BY {}").format(base, where, order)
    schema = pa.schema([(c, _arrow_type(t)) for c, t in described])
    watermark_index = columns.index(inc.column) if inc else None
    newest = None
    with conn.cursor(name=f"cartflow_{os.getpid()}_{int(time.time() * 1000)}") as cur, \
            pq.ParquetWriter(out, schema, compression="zstd", compression_level=3) as writer:
        cur.itersize = source.chunk_rows
        cur.execute(query, params)
        while True:
            rows = cur.fetchmany(source.chunk_rows)
            if not rows:
                break
            writer.write_table(_chunk(rows, described, schema))
            if watermark_index is not None:
                top = max((r[watermark_index] for r in rows if r[watermark_index] is not None), default=None)
                newest = top if newest is None or (top is not None and top > newest) else newest
            result.rows += len(rows)
            result.chunks += 1
            stage.advance(detail=f"{result.rows:,} rows")
            if on_chunk:
                on_chunk(result.chunks, result.rows)
    conn.commit()
    if inc:
        result.watermark = _text(newest) if newest is not None else previous
        if previous is not None and newest is not None and _older(newest, previous, types[inc.column]):
            result.watermark = previous  # only look-back rows came back: never move the watermark back


def _base(source: PostgresSource) -> sql.Composable:
    if source.table:
        return sql.Identifier(*source.table.split("."))
    return sql.SQL("({})").format(sql.SQL(source.query.strip().rstrip(";")))  # type: ignore[union-attr]


def _order(name: str, source: PostgresSource, columns: list[str]) -> sql.Composable:
    wanted = ([source.incremental.column] if source.incremental else []) + list(source.key)
    missing = [c for c in source.key if c not in columns]
    if missing:
        raise SourceError(f"source {name!r}: key column(s) {missing} are not in {source.table or 'the query'} "
                          f"(columns: {', '.join(columns)})", retryable=False)
    if not source.key:
        wanted += [c for c in columns if c not in wanted]  # no key: every column, for a stable order
    seen: list[str] = []
    for c in wanted:
        if c not in seen:
            seen.append(c)
    return sql.SQL(", ").join(sql.SQL("q.{}").format(sql.Identifier(c)) for c in seen)


def _since(column: str, type_name: str, previous: str, lookback: str | float) -> tuple[sql.Composable, dict[str, Any]]:
    col = sql.SQL("q.{}").format(sql.Identifier(column))
    cast = sql.SQL(type_name if type_name in _TEMPORAL | _NUMERIC else "text")
    if not lookback or str(lookback).strip() in ("0", "0.0"):
        return sql.SQL(" WHERE {} > CAST(%(wm)s AS {})").format(col, cast), {"wm": previous}
    if type_name in _TEMPORAL:
        return (sql.SQL(" WHERE {} > CAST(%(wm)s AS {}) - CAST(%(lb)s AS interval)").format(col, cast),
                {"wm": previous, "lb": str(lookback)})
    return (sql.SQL(" WHERE {} > CAST(%(wm)s AS {}) - CAST(%(lb)s AS numeric)").format(col, cast),
            {"wm": previous, "lb": str(lookback)})


def _type_name(conn: psycopg.Connection, oid: int) -> str:
    info = conn.adapters.types.get(oid)
    return info.name if info else "text"


def _arrow_type(type_name: str) -> pa.DataType:
    """Native Parquet types where they are exact; numeric as text, so money never becomes a float."""
    if type_name in _INTS:
        return pa.int64()
    if type_name in _FLOATS:
        return pa.float64()
    if type_name == "bool":
        return pa.bool_()
    if type_name == "date":
        return pa.date32()
    if type_name == "timestamp":
        return pa.timestamp("us")
    if type_name == "timestamptz":
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def _chunk(rows: list[tuple[Any, ...]], described: list[tuple[str, str]], schema: pa.Schema) -> pa.Table:
    arrays = []
    for i, (_, _type) in enumerate(described):
        values = [r[i] for r in rows]
        target = schema.field(i).type
        if pa.types.is_string(target):
            values = [None if v is None else _text(v) for v in values]
        elif pa.types.is_timestamp(target) and target.tz:
            # naive UTC, then tagged: pyarrow would import pandas to convert aware datetimes
            values = [None if v is None else v.astimezone(UTC).replace(tzinfo=None) for v in values]
            arrays.append(pa.array(values, type=pa.timestamp("us")).cast(target))
            continue
        arrays.append(pa.array(values, type=target))
    return pa.Table.from_arrays(arrays, schema=schema)


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _older(newest: Any, previous: str, type_name: str) -> bool:
    try:
        if isinstance(newest, datetime):
            prev = datetime.fromisoformat(previous)
            if newest.tzinfo and prev.tzinfo is None:
                prev = prev.replace(tzinfo=UTC)
            return newest < prev
        if isinstance(newest, date):
            return newest < date.fromisoformat(previous)
        if type_name in _NUMERIC:
            return Decimal(str(newest)) < Decimal(previous)
    except (ValueError, ArithmeticError, TypeError):
        return False
    return str(newest) < previous


def _close(conn: psycopg.Connection) -> None:
    try:
        conn.close()
    except psycopg.Error:  # a broken connection may fail to close cleanly; it is gone either way
        pass


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
