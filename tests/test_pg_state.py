"""PostgresState against the real PostgreSQL: same behaviour as SqliteState, shared by processes."""

from __future__ import annotations

import inspect
import multiprocessing
from pathlib import Path

import psycopg
import pytest

from cartflow.config import load_project
from cartflow.runtime.pg_state import PostgresState, StateConfigError, redact
from cartflow.runtime.state import Manifest, SqliteState, utcnow


def manifest(batch: str, status: str = "landed", source: str = "online_retail") -> Manifest:
    return Manifest(source=source, entity="order_lines", batch_id=batch, raw_key=f"raw/{batch}.csv",
                    source_file=f"{batch}.csv", bytes=3_000_000_000, rows=None, extracted_at=utcnow(),
                    watermark=None, status=status)


@pytest.fixture(params=["sqlite", "postgres"])
def state(request, tmp_path: Path, pg_dsn: str, pg_schema: str):
    s = SqliteState(tmp_path / "state.db") if request.param == "sqlite" else PostgresState(pg_dsn, pg_schema)
    yield s
    s.close()


def test_same_methods_as_sqlite() -> None:
    def public(cls: type) -> dict[str, inspect.Signature]:
        return {n: inspect.signature(f) for n, f in inspect.getmembers(cls, inspect.isfunction)
                if not n.startswith("_")}

    sqlite, pg = public(SqliteState), public(PostgresState)
    assert set(sqlite) <= set(pg), f"PostgresState lacks {sorted(set(sqlite) - set(pg))}"
    for name, sig in sqlite.items():
        assert list(sig.parameters) == list(pg[name].parameters), name


def test_manifests_runs_watermarks(state) -> None:
    assert state.add_manifest(manifest("b1")) is True
    assert state.add_manifest(manifest("b1")) is False, "same content is the same batch"
    state.add_manifest(manifest("b2"))
    state.update_manifest("online_retail", "order_lines", "b1", status="bronze", rows=10, bronze_key="bronze/b1")
    got = state.get_manifest("online_retail", "order_lines", "b1")
    assert (got.status, got.rows, got.bronze_key, got.bytes) == ("bronze", 10, "bronze/b1", 3_000_000_000)
    assert state.get_manifest("online_retail", "order_lines", "nope") is None
    assert [m.batch_id for m in state.manifests(status="landed")] == ["b2"]
    assert [m.batch_id for m in state.manifests(entity="order_lines")] == ["b1", "b2"]

    state.start_run("20240101T000000-aaaaaa", "manual")
    state.record_task("20240101T000000-aaaaaa", "extract", "running", started_at=utcnow())
    state.record_task("20240101T000000-aaaaaa", "extract", "succeeded", started_at=utcnow(), seconds=1.5, rows=7)
    state.finish_run("20240101T000000-aaaaaa", "succeeded", None, {"new_batches": 2})
    run = state.run("20240101T000000")
    assert run["status"] == "succeeded" and run["stats"] == '{"new_batches": 2}'
    assert [(t["task"], t["status"], t["rows"], t["seconds"]) for t in run["tasks"]] == [("extract", "succeeded", 7, 1.5)]
    assert state.run("nope") is None
    assert [r["run_id"] for r in state.runs()] == ["20240101T000000-aaaaaa"]

    assert state.watermark("api", "customers") is None
    state.set_watermark("api", "customers", "2024-01-01")
    state.set_watermark("api", "customers", "2024-02-01")
    assert state.watermark("api", "customers") == "2024-02-01"


def test_open_state_selects_postgres(project, pg_dsn: str, pg_schema: str, monkeypatch) -> None:
    from cartflow.runtime.backends import open_state

    text = (project.root / "cartflow.toml").read_text()
    text = text.replace('backend = "sqlite"\npath = ".cartflow/state.db"',
                        f'backend = "postgres"\ndsn_env = "CF_TEST_STATE_DSN"\nschema = "{pg_schema}"')
    (project.root / "cartflow.toml").write_text(text)
    proj = load_project(project.root)
    monkeypatch.delenv("CF_TEST_STATE_DSN", raising=False)
    with pytest.raises(StateConfigError, match="set CF_TEST_STATE_DSN"):
        open_state(proj)
    monkeypatch.setenv("CF_TEST_STATE_DSN", pg_dsn)
    state = open_state(proj)
    assert isinstance(state, PostgresState)
    state.start_run("r1", "test")
    state.close()
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(f"SELECT count(*) FROM {pg_schema}.runs").fetchone() == (1,)
    assert not (project.root / ".cartflow" / "state.db").exists()


def test_bad_dsn_is_clear_and_hides_the_password() -> None:
    dsn = "postgresql://cartflow:s3cret@127.0.0.1:1/nodb"
    with pytest.raises(StateConfigError) as err:
        PostgresState(dsn, "x")
    assert "127.0.0.1:1" in str(err.value) and "s3cret" not in str(err.value)
    assert redact(dsn) == "postgresql://cartflow:***@127.0.0.1:1/nodb"


def test_reconnects_after_the_connection_drops(pg_dsn: str, pg_schema: str) -> None:
    state = PostgresState(pg_dsn, pg_schema)
    pid = state._q("SELECT pg_backend_pid() AS pid")[0]["pid"]
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    state.set_watermark("s", "e", "v")  # a fresh connection, same schema
    assert state.watermark("s", "e") == "v"
    state.close()


def _worker(dsn: str, schema: str, worker: int, batches: int) -> list[str]:
    """One process: lands every batch (all workers race on the same ids), records its own run."""
    state = PostgresState(dsn, schema)
    won = [f"b{i}" for i in range(batches) if state.add_manifest(manifest(f"b{i}"))]
    state.start_run(f"run-{worker}", "test")
    for b in won:
        state.update_manifest("online_retail", "order_lines", b, status="bronze", run_id=f"run-{worker}")
    state.set_watermark("online_retail", "order_lines", f"w{worker}")
    state.finish_run(f"run-{worker}", "succeeded", None, {"won": len(won)})
    state.close()
    return won


def test_two_processes_share_one_state(pg_dsn: str, pg_schema: str) -> None:
    ctx = multiprocessing.get_context("spawn")  # separate interpreters, separate connections
    with ctx.Pool(2) as pool:
        results = pool.starmap(_worker, [(pg_dsn, pg_schema, w, 200) for w in (1, 2)], chunksize=1)
    won = results[0] + results[1]
    assert sorted(won) == sorted(f"b{i}" for i in range(200)), "every batch landed exactly once"
    state = PostgresState(pg_dsn, pg_schema)
    ms = state.manifests()
    assert len(ms) == 200 and all(m.status == "bronze" for m in ms)
    by_run = {r: sum(1 for m in ms if m.run_id == r) for r in ("run-1", "run-2")}
    assert by_run == {"run-1": len(results[0]), "run-2": len(results[1])}
    assert {r["run_id"] for r in state.runs()} == {"run-1", "run-2"}
    assert state.watermark("online_retail", "order_lines") in {"w1", "w2"}
    state.close()
