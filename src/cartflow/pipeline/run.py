"""`cartflow run`: extract → bronze → silver → gold → publish, as one recorded run.

A run holds the project lock, records each task in the state store, and ends with an
honest status: `succeeded`, `partial` (an optional source failed) or `failed`. Nothing is
published unless every model ran and every batch reconciled.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import duckdb

from cartflow.config import FilesSource, Project
from cartflow.lake.raw import land_file
from cartflow.lake.storage import Storage, open_storage
from cartflow.pipeline.lock import RunLock
from cartflow.pipeline.progress import QuietReporter, Reporter
from cartflow.pipeline.standardize import run_models, to_bronze
from cartflow.pipeline.state import SqliteState, utcnow
from cartflow.publish.marts import publish
from cartflow.sources.files import discover


@dataclass
class RunResult:
    run_id: str
    status: str
    new_batches: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    layer_rows: dict[str, int] = field(default_factory=dict)
    quarantine: dict[str, int] = field(default_factory=dict)
    failed_sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def open_state(project: Project) -> SqliteState:
    return SqliteState(project.state_path)


def open_lake(project: Project) -> Storage:
    lake = project.config.lake
    if project.lake_is_local:
        return open_storage(project.lake_uri)
    return open_storage(project.lake_uri, endpoint=lake.endpoint, region=lake.region,
                        access_key_env=lake.access_key_env, secret_key_env=lake.secret_key_env)


def run_pipeline(project: Project, *, trigger: str = "manual", reporter: Reporter | None = None) -> RunResult:
    reporter = reporter or QuietReporter()
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    started = time.perf_counter()
    with RunLock(project.work_dir / "run.lock", run_id) as lock:
        if lock.recovered:
            reporter.message(f"recovered a stale lock left by pid {lock.recovered.pid} "
                             f"(run {lock.recovered.run_id})")
        state = open_state(project)
        storage = open_lake(project)
        state.start_run(run_id, trigger)
        result = RunResult(run_id=run_id, status="running")
        try:
            _stages(project, storage, state, reporter, result)
        except Exception as exc:  # the run record must say why, whatever failed
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        result.seconds = round(time.perf_counter() - started, 3)
        state.finish_run(run_id, result.status, result.error, _stats(result))
        state.close()
    return result


def _stages(project: Project, storage: Storage, state: SqliteState, reporter: Reporter,
            result: RunResult) -> None:
    timed = _Timer(state, result)
    with timed("extract"):
        extract_all(project, storage, state, reporter, result)
    with timed("bronze"):
        bronze = to_bronze(project, storage, state, reporter)
    result.failed_sources.update(bronze.failed)
    result.warnings += bronze.warnings
    with timed("transform"):
        transformed = run_models(project, storage, state, reporter)
    result.new_batches = len(transformed)
    required_failed = [s for s in result.failed_sources
                       if getattr(project.config.sources.get(s), "required", True)]
    if transformed:
        with timed("publish"):
            stage = reporter.stage("publish")
            publish(project.warehouse_path, storage, progress=lambda name: stage.advance(detail=name))
            stage.done()
        result.layer_rows, result.quarantine = layer_counts(project, state)
    if required_failed:
        result.status = "failed"
        result.error = "; ".join(result.failed_sources[s] for s in required_failed)
    elif result.failed_sources:
        result.status = "partial"
        result.error = "; ".join(result.failed_sources.values())
    else:
        result.status = "succeeded"


def extract_all(project: Project, storage: Storage, state: SqliteState, reporter: Reporter,
                result: RunResult) -> int:
    """Land every new file of every enabled source in raw; a failing source does not stop the others."""
    landed = 0
    for name, source in project.config.sources.items():
        if not source.enabled:
            continue
        started = utcnow()
        t0 = time.perf_counter()
        try:
            n = _extract_source(project, storage, state, reporter, name, source, result.run_id)
        except Exception as exc:
            result.failed_sources[name] = f"{name}: {exc}"
            state.record_task(result.run_id, f"extract:{name}", "failed", started_at=started,
                              seconds=time.perf_counter() - t0, error=str(exc))
            continue
        landed += n
        state.record_task(result.run_id, f"extract:{name}", "succeeded", started_at=started,
                          seconds=time.perf_counter() - t0, rows=n)
    return landed


def _extract_source(project: Project, storage: Storage, state: SqliteState, reporter: Reporter,
                    name: str, source: Any, run_id: str) -> int:
    if not isinstance(source, FilesSource):
        raise NotImplementedError(f"source kind {source.kind!r} is not supported yet")
    files = discover(project, name, source)
    stage = reporter.stage(f"extract {name}", total=len(files))
    new = 0
    for path in files:
        if land_file(storage, state, source=name, entity=source.entity, path=path, run_id=run_id):
            new += 1
        stage.advance(detail=path.name)
    stage.done(f"{new} new file(s)")
    return new


def layer_counts(project: Project, state: SqliteState) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per layer (all batches so far) and quarantine rows by reason, read after the models ran."""
    raw = sum(m.rows or 0 for m in state.manifests(status="transformed"))
    con = duckdb.connect(str(project.warehouse_path), read_only=True)
    try:
        count = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        layers = {
            "raw": raw,
            "silver": count("SELECT count(*) FROM silver.order_lines"),
            "quarantine": count("SELECT count(*) FROM silver.quarantine_order_lines"),
            "gold fct_order_line": count("SELECT count(*) FROM gold.fct_order_line"),
            "gold fct_order": count("SELECT count(*) FROM gold.fct_order"),
        }
        reasons = dict(con.execute(
            "SELECT reason, count(*) FROM silver.quarantine_order_lines GROUP BY 1 ORDER BY 2 DESC").fetchall())
    finally:
        con.close()
    return layers, reasons


def _stats(result: RunResult) -> dict[str, Any]:
    return {"new_batches": result.new_batches, "stage_seconds": result.stage_seconds,
            "layer_rows": result.layer_rows, "quarantine": result.quarantine,
            "failed_sources": result.failed_sources, "warnings": result.warnings}


class _Timer:
    """Records a task per stage in the run history, with its seconds and outcome."""

    def __init__(self, state: SqliteState, result: RunResult) -> None:
        self.state, self.result = state, result

    def __call__(self, name: str) -> "_Timed":
        return _Timed(self, name)


class _Timed:
    def __init__(self, timer: _Timer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.started, self.t0 = utcnow(), time.perf_counter()

    def __exit__(self, exc_type, exc, tb) -> None:
        seconds = round(time.perf_counter() - self.t0, 3)
        self.timer.result.stage_seconds[self.name] = seconds
        self.timer.state.record_task(self.timer.result.run_id, self.name,
                                     "failed" if exc else "succeeded", started_at=self.started,
                                     seconds=seconds, error=str(exc) if exc else None)
