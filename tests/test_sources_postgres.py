"""The `postgres` source against the real PostgreSQL: streaming, incremental, look-back, failures."""

from __future__ import annotations

import math
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from cartflow.config import PostgresSource, parse_config
from cartflow.lake.storage import LocalStorage
from cartflow.runtime.progress import QuietReporter
from cartflow.runtime.state import SqliteState
from cartflow.sandbox.multi_generator import seed_multi_source
from cartflow.sandbox.pg_seed import advance_postgres, seed_postgres
from cartflow.sources.errors import SourceError
from cartflow.sources.postgres import extract_postgres


@pytest.fixture
def seeded(pg_dsn: str, pg_schema: str) -> str:
    seed_postgres(pg_dsn, seed_multi_source(), pg_schema)
    return pg_schema


@pytest.fixture
def lake_state(tmp_path: Path):
    storage = LocalStorage(tmp_path / "lake")
    state = SqliteState(tmp_path / "state.db")
    yield storage, state
    state.close()


def pg_source(pg_dsn: str, **raw) -> PostgresSource:
    config = {"kind": "postgres", "entity": "transactions", "dsn": pg_dsn.replace("cartflow:cartflow@", "cartflow@"),
              "backoff_seconds": 0.01, "max_backoff_seconds": 0.05, **raw}
    return parse_config({"sources": {"db": config}}).sources["db"]  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "cartflow")  # the DSN in config carries none, as the config demands


def rows_of(storage: LocalStorage, state: SqliteState) -> list[list[dict]]:
    return [pq.read_table(storage.uri(m.raw_key)).to_pylist() for m in state.manifests()]


def test_a_table_streams_in_chunks_to_one_parquet_batch_with_exact_values(pg_dsn, seeded, lake_state):
    storage, state = lake_state
    source = pg_source(pg_dsn, table=f"{seeded}.transactions", key=["transaction_id"], chunk_rows=300)
    chunks: list[int] = []
    result = extract_postgres(storage, state, QuietReporter(), "db", source, "r1",
                              on_chunk=lambda n, rows: chunks.append(rows))
    assert (result.rows, result.chunks, result.landed) == (1000, math.ceil(1000 / 300), 1)
    assert chunks == [300, 600, 900, 1000]  # never more than a chunk in flight
    (table,) = rows_of(storage, state)
    by_id = {r["transaction_id"]: r for r in table}
    assert by_id[2]["total_amount"] == "-8.299999999999999"  # numeric kept as exact text, never a float
    assert by_id[6]["total_amount"] == "1241.0099999999998" and by_id[2]["transaction_date"] is None
    assert [r["transaction_id"] for r in table] == list(range(1, 1001))  # a stable order: the key


def test_extracting_an_unchanged_table_again_lands_nothing(pg_dsn, seeded, lake_state):
    storage, state = lake_state
    source = pg_source(pg_dsn, table=f"{seeded}.products", entity="products", key=["product_id"])
    assert extract_postgres(storage, state, QuietReporter(), "db", source, "r1").landed == 1
    again = extract_postgres(storage, state, QuietReporter(), "db", source, "r2")
    assert (again.rows, again.landed) == (1000, 0) and len(state.manifests()) == 1


def test_incremental_extraction_picks_up_only_the_changed_rows(pg_dsn, seeded, lake_state):
    storage, state = lake_state
    source = pg_source(pg_dsn, table=f"{seeded}.transactions", key=["transaction_id"],
                       incremental={"column": "updated_at"})
    assert extract_postgres(storage, state, QuietReporter(), "db", source, "r1").rows == 1000
    first = state.watermark("db", "transactions")
    nothing = extract_postgres(storage, state, QuietReporter(), "db", source, "r2")
    assert (nothing.rows, nothing.landed) == (0, 0) and state.watermark("db", "transactions") == first
    changed = advance_postgres(pg_dsn, seeded, products=3, new_transactions=4, corrections=2, seed=5)
    result = extract_postgres(storage, state, QuietReporter(), "db", source, "r3")
    latest = pq.read_table(storage.uri(state.manifests()[-1].raw_key)).to_pylist()
    assert sorted(r["transaction_id"] for r in latest) == changed.transactions and result.rows == 6
    assert all(r["total_amount"] and not r["total_amount"].startswith("-") for r in latest)  # corrected amounts
    assert state.watermark("db", "transactions") > first


def test_a_look_back_rereads_late_rows_but_never_moves_the_watermark_back(pg_dsn, seeded, lake_state):
    storage, state = lake_state
    source = pg_source(pg_dsn, table=f"{seeded}.products", entity="products", key=["product_id"],
                       incremental={"column": "updated_at", "lookback": "1 hour"})
    extract_postgres(storage, state, QuietReporter(), "db", source, "r1")
    mark = state.watermark("db", "products")
    again = extract_postgres(storage, state, QuietReporter(), "db", source, "r2")
    assert again.rows == 1000 and again.landed == 0  # the same rows, hence the same batch: nothing doubled
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # a row committed late, stamped in the past
        conn.execute(f"UPDATE {seeded}.products SET price = 1, updated_at = now() - interval '10 minutes' "
                     "WHERE product_id = 7")
    late = extract_postgres(storage, state, QuietReporter(), "db", source, "r3")
    assert late.landed == 1 and state.watermark("db", "products") == mark


def test_a_connection_lost_mid_extract_commits_nothing_and_keeps_the_watermark(pg_dsn, seeded, lake_state):
    storage, state = lake_state
    source = pg_source(pg_dsn, table=f"{seeded}.transactions", key=["transaction_id"], chunk_rows=100,
                       incremental={"column": "updated_at"})
    state.set_watermark("db", "transactions", "2000-01-01T00:00:00+00:00")

    def kill_the_connection(chunks: int, rows: int) -> None:
        if chunks == 2:
            with psycopg.connect(pg_dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE application_name = 'cartflow:db'")

    with pytest.raises(SourceError) as err:
        extract_postgres(storage, state, QuietReporter(), "db", source, "r1", on_chunk=kill_the_connection)
    assert err.value.retryable is True and "nothing was landed" in str(err.value) and "'db'" in str(err.value)
    assert state.manifests() == [] and state.watermark("db", "transactions") == "2000-01-01T00:00:00+00:00"
    assert list((Path(storage.root)).rglob("*.parquet")) == []
    result = extract_postgres(storage, state, QuietReporter(), "db", source, "r2")  # the retry
    assert (result.rows, result.landed) == (1000, 1)


def test_connection_errors_are_retried_then_reported(pg_dsn, lake_state):
    storage, state = lake_state
    waits: list[float] = []
    source = pg_source("postgresql://cartflow@127.0.0.1:1/nowhere", table="public.t", connect_attempts=3)
    with pytest.raises(SourceError, match="after 3 attempt") as err:
        extract_postgres(storage, state, QuietReporter(), "db", source, "r1", sleep=waits.append)
    assert len(waits) == 2 and waits[0] <= waits[1] * 2 and err.value.retryable is True


def test_queries_and_clear_errors(pg_dsn, seeded, lake_state):
    storage, state = lake_state
    source = pg_source(pg_dsn, entity="sales", query=f"SELECT transaction_id, quantity FROM {seeded}.transactions "
                                                     "WHERE quantity > 8", key=["transaction_id"])
    assert extract_postgres(storage, state, QuietReporter(), "db", source, "r1").rows == 210
    bad = pg_source(pg_dsn, table=f"{seeded}.transactions", incremental={"column": "changed_at"})
    with pytest.raises(SourceError, match="incremental.column 'changed_at' is not a column") as err:
        extract_postgres(storage, state, QuietReporter(), "db", bad, "r2")
    assert err.value.retryable is False
    missing = pg_source(pg_dsn, table=f"{seeded}.nope")
    with pytest.raises(SourceError, match="does not exist"):
        extract_postgres(storage, state, QuietReporter(), "db", missing, "r3")
