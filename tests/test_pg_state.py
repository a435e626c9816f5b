"""The state store on both dialects (SQLite, the real PostgreSQL): the same behaviour, shared by processes."""

from __future__ import annotations

import inspect
import multiprocessing
from pathlib import Path

import psycopg
import pytest

from cartflow.config import load_project
from cartflow.runtime.pg_state import PostgresState, StateConfigError, redact
from cartflow.runtime.state import CrashedRun, Manifest, SqliteState, StateStore, utcnow


def manifest(batch: str, status: str = "landed", source: str = "online_retail") -> Manifest:
    return Manifest(source=source, entity="order_lines", batch_id=batch, raw_key=f"raw/{batch}.csv",
                    source_file=f"{batch}.csv", bytes=3_000_000_000, rows=None, extracted_at=utcnow(),
                    watermark=None, status=status)


def open_backend(backend: str, where: str) -> StateStore:
    """`where`: the SQLite file, or `dsn|schema` for PostgreSQL."""
    if backend == "sqlite":
        return SqliteState(Path(where))
    dsn, schema = where.split("|")
    return PostgresState(dsn, schema)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return "sqlite", str(tmp_path / "state.db")
    return "postgres", f"{request.getfixturevalue('pg_dsn')}|{request.getfixturevalue('pg_schema')}"


@pytest.fixture
def state(backend: tuple[str, str]):
    s = open_backend(*backend)
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


def test_one_implementation_for_both() -> None:
    """The queries are written once: the dialects only connect and translate."""
    assert issubclass(SqliteState, StateStore) and issubclass(PostgresState, StateStore)
    own = {n for n, f in vars(PostgresState).items() if callable(f) and not n.startswith("__")}
    assert own <= {"from_env"}, f"PostgresState re-implements {sorted(own - {'from_env'})}"
    assert {n for n, f in vars(SqliteState).items() if callable(f) and not n.startswith("__")} == set()


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


def test_run_lookup_by_prefix_takes_the_id_literally(state) -> None:
    for run_id in ("af-manual__2026-01-01", "af-manualX_2026-01-01", "af-manual__2026-01-01b"):
        state.start_run(run_id, "airflow")
    assert state.run("af-manual__2026-01-01")["run_id"] == "af-manual__2026-01-01", "the exact id comes first"
    assert state.run("af-manualX")["run_id"] == "af-manualX_2026-01-01"
    assert state.run("af-manual__2026-01-01b")["run_id"] == "af-manual__2026-01-01b"
    assert state.run("af-manual%") is None and state.run("af-manual_X") is None, "% and _ are not wildcards"


def test_update_manifest_refuses_an_unknown_column(state) -> None:
    state.add_manifest(manifest("b1"))
    with pytest.raises(ValueError, match="unknown column"):
        state.update_manifest("online_retail", "order_lines", "b1", **{"status = 'x' --": "y"})
    assert state.get_manifest("online_retail", "order_lines", "b1").status == "landed"


def test_a_running_task_has_no_finish_time_until_it_ends(state) -> None:
    state.start_run("r1", "manual")
    state.record_task("r1", "transform", "running", started_at=utcnow())
    [task] = state.run("r1")["tasks"]
    assert (task["status"], task["finished_at"]) == ("running", None)
    state.record_task("r1", "transform", "interrupted", started_at=task["started_at"], seconds=2.0)
    [task] = state.run("r1")["tasks"]
    assert task["status"] == "interrupted" and task["finished_at"] and task["seconds"] == 2.0


def test_a_crash_is_recorded_once_and_its_alert_claimed_by_one_sender(state) -> None:
    crash = CrashedRun(lock_id="h/1/t0", run_id="r0", pid=1, host="h", started_at="t0", recovered_by="r1",
                       recovered_at=utcnow(), message="process 1 on h died")
    assert state.record_crash(crash) is True
    assert state.record_crash(crash) is False, "the same dead holder is one crash"
    assert [c.lock_id for c in state.unalerted_crashes()] == ["h/1/t0"]
    assert state.claim_crash_alert("h/1/t0", None, "h/10") is True
    assert state.claim_crash_alert("h/1/t0", None, "h/11") is False, "already claimed by h/10"
    assert state.claim_crash_alert("h/1/t0", "h/10", "h/11") is True, "taken over from a dead claimant"
    state.crash_alerted("h/1/t0")
    assert state.unalerted_crashes() == []
    assert state.claim_crash_alert("h/1/t0", "h/11", "h/12") is False, "an alerted crash is done"


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


def _worker(backend: str, where: str, worker: int, batches: int) -> list[str]:
    """One process: lands every batch (all workers race on the same ids), records its own run."""
    state = open_backend(backend, where)
    won = [f"b{i}" for i in range(batches) if state.add_manifest(manifest(f"b{i}"))]
    state.start_run(f"run-{worker}", "test")
    for b in won:
        state.update_manifest("online_retail", "order_lines", b, status="bronze", run_id=f"run-{worker}")
    state.set_watermark("online_retail", "order_lines", f"w{worker}")
    state.finish_run(f"run-{worker}", "succeeded", None, {"won": len(won)})
    state.close()
    return won


def test_two_processes_share_one_state(backend: tuple[str, str]) -> None:
    ctx = multiprocessing.get_context("spawn")  # separate interpreters, separate connections
    with ctx.Pool(2) as pool:
        results = pool.starmap(_worker, [(*backend, w, 200) for w in (1, 2)], chunksize=1)
    won = results[0] + results[1]
    assert sorted(won) == sorted(f"b{i}" for i in range(200)), "every batch landed exactly once"
    state = open_backend(*backend)
    ms = state.manifests()
    assert len(ms) == 200 and all(m.status == "bronze" for m in ms)
    by_run = {r: sum(1 for m in ms if m.run_id == r) for r in ("run-1", "run-2")}
    assert by_run == {"run-1": len(results[0]), "run-2": len(results[1])}
    assert {r["run_id"] for r in state.runs()} == {"run-1", "run-2"}
    assert state.watermark("online_retail", "order_lines") in {"w1", "w2"}
    state.close()
