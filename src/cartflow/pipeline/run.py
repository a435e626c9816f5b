"""`cartflow run`: extract → bronze → silver → gold → quality → publish, as one recorded run.

A run holds the project lock, records each task in the state store, and ends with an
honest status: `succeeded`, `partial` (an optional source failed) or `failed`. Nothing is
published unless every model ran and every batch reconciled. Each source is retried
with backoff; alerts go out after the lock is released, and never fail the run.

The stages are plain functions over a `RunContext`, so an orchestrator (Airflow,
`cartflow.orchestrators`) runs exactly the same code one task per stage.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import duckdb

from cartflow.config import Project
from cartflow.lake.storage import Storage
from cartflow.runtime.lock import Holder, RunLock
from cartflow.runtime.logs import run_context
from cartflow.runtime.progress import QuietReporter, Reporter
from cartflow.pipeline.quality import Breach, check_quality, reconciliation_breach
from cartflow.runtime.retry import call_with_retry, policy_for_source
from cartflow.pipeline.standardize import ReconciliationError, run_models, to_bronze
from cartflow.lake.storage import open_lake
from cartflow.runtime.backends import open_state
from cartflow.runtime.state import SqliteState, utcnow
from cartflow.publish.marts import publish
from cartflow.publish.serving import refresh_serving
from cartflow.sources import extract

if TYPE_CHECKING:
    from cartflow.pipeline.backfill import Restatement

log = logging.getLogger(__name__)


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
    rejected_files: dict[str, str] = field(default_factory=dict)
    """Files (or landed batches) this run rejected, "<source>/<file>" -> "code: reason"; the run is `partial`."""
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    batch_ids: list[str] = field(default_factory=list)
    """Batches this run took through silver and gold."""
    breaches: list[Breach] = field(default_factory=list)
    """Data-quality breaches found after reconcile (each one alerts)."""
    restated: dict[str, Any] | None = None
    """For `--from/--to`: the date range and the batches it restated."""
    crashed_run: dict[str, Any] | None = None
    """A run whose process died holding the lock, recovered (and closed as failed) by this one."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunResult":
        data = dict(data)
        data["breaches"] = [Breach(**b) for b in data.get("breaches", [])]
        return cls(**data)


@dataclass
class RunContext:
    """What every stage works on: the project, its lake and state, and the run's result so far."""

    project: Project
    storage: Storage
    state: SqliteState
    reporter: Reporter
    result: RunResult
    restate: "Restatement | None" = None


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def run_pipeline(project: Project, *, trigger: str = "manual", reporter: Reporter | None = None,
                 restate: "Restatement | None" = None, run_id: str | None = None) -> RunResult:
    """One whole run under the project lock; `restate` restates a date range (or given batches)."""
    reporter = reporter or QuietReporter()
    run_id = run_id or new_run_id()
    started = time.perf_counter()
    with run_context(run_id):
        with RunLock(project.work_dir / "run.lock", run_id) as lock:
            state = open_state(project)
            result = RunResult(run_id=run_id, status="running")
            try:
                if lock.recovered:
                    close_crashed_run(state, lock.recovered, result, reporter)
                state.start_run(run_id, trigger)
                log.info("run started", extra={"trigger": trigger, "restate": _range(restate)})
                try:
                    ctx = RunContext(project, open_lake(project), state, reporter, result, restate)
                    run_stages(ctx)
                except Exception as exc:  # the run record must say why, whatever failed
                    fail(result, exc)
                result.seconds = round(time.perf_counter() - started, 3)
                state.finish_run(run_id, result.status, result.error, _stats(result))
            finally:
                state.close()
        log.log(logging.ERROR if result.status == "failed" else logging.INFO,
                "run %s in %.1fs", result.status, result.seconds,
                extra={"status": result.status, "new_batches": result.new_batches, "error": result.error})
        from cartflow.pipeline.alerts import notify_run  # the lock is released: slow receivers block no run

        notify_run(project, result)
    return result


def fail(result: RunResult, exc: BaseException) -> None:
    """Mark the run failed with the error; a reconciliation break is also a quality breach."""
    result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
    if isinstance(exc, RECONCILIATION_ERRORS):
        result.breaches.append(reconciliation_breach(exc))
    log.error("run failed: %s", result.error, exc_info=not isinstance(exc, RECONCILIATION_ERRORS))


def close_crashed_run(state: SqliteState, holder: Holder, result: RunResult, reporter: Reporter) -> None:
    """A run died holding the lock: its record still says `running`; say `failed`, honestly."""
    message = (f"process {holder.pid} on {holder.host} died while running (lock taken {holder.started_at}); "
               f"its stale lock was recovered by run {result.run_id}")
    reporter.message(f"recovered a stale lock left by pid {holder.pid} (run {holder.run_id})")
    log.warning("recovered a stale lock: %s", message, extra={"crashed_run": holder.run_id})
    result.warnings.append(f"run {holder.run_id or '?'}: {message}")
    result.crashed_run = {"run_id": holder.run_id, "pid": holder.pid, "host": holder.host,
                          "started_at": holder.started_at}
    previous = state.run(holder.run_id) if holder.run_id else None
    if previous and previous["status"] == "running":
        state.finish_run(previous["run_id"], "failed", message, {})


def run_stages(ctx: RunContext) -> None:
    timed = _Timer(ctx.state, ctx.result)
    for name, stage in STAGES:
        if name == "publish" and not ctx.result.batch_ids:
            continue
        if name != "extract" and required_failed(ctx):
            break  # a required source failed: standardize and publish nothing partial (its batches wait)
        with timed(name):
            stage(ctx)
    settle_status(ctx)


def required_failed(ctx: RunContext) -> list[str]:
    sources = ctx.project.config.sources
    return [s for s in ctx.result.failed_sources if getattr(sources.get(s), "required", True)]


def stage_extract(ctx: RunContext) -> None:
    extract_all(ctx.project, ctx.storage, ctx.state, ctx.reporter, ctx.result)


def stage_bronze(ctx: RunContext) -> None:
    bronze = to_bronze(ctx.project, ctx.storage, ctx.state, ctx.reporter, run_id=ctx.result.run_id)
    ctx.result.failed_sources.update(bronze.failed)
    ctx.result.warnings += bronze.warnings


def stage_transform(ctx: RunContext) -> None:
    """silver + gold over the pending batches, then reconcile (raises on a break)."""
    if ctx.restate:
        from cartflow.pipeline.backfill import restate_range

        ctx.result.restated = restate_range(ctx.project, ctx.storage, ctx.state, ctx.reporter, ctx.restate)
        ctx.result.batch_ids = list(ctx.result.restated["batches"])
    else:
        ctx.result.batch_ids = [m.batch_id for m in run_models(ctx.project, ctx.storage, ctx.state, ctx.reporter)]
    ctx.result.new_batches = len(ctx.result.batch_ids)
    if ctx.project.config.lake.raw_retention == "delete_after_standardize":
        from cartflow.lake.raw import delete_standardized_raw

        ctx.result.warnings += delete_standardized_raw(ctx.storage, ctx.state)[1]


def stage_quality(ctx: RunContext) -> None:
    """Quarantine share of the new rows and freshness of every source; a breach alerts, never fails."""
    try:
        breaches = check_quality(ctx.project, ctx.state, ctx.result.batch_ids)
    except Exception as exc:  # noqa: BLE001 - a broken check is a warning, not a failed run
        ctx.result.warnings.append(f"quality checks could not run: {type(exc).__name__}: {exc}")
        log.warning("quality checks could not run: %s", exc)
        return
    for b in breaches:
        log.warning("data-quality breach (%s): %s", b.check, b.message, extra={"check": b.check})
        ctx.result.warnings.append(f"quality: {b.message}")
    ctx.result.breaches += breaches


def stage_publish(ctx: RunContext) -> None:
    stage = ctx.reporter.stage("publish")
    spark = None
    if ctx.project.config.warehouse.engine == "spark":
        from cartflow.transform import spark as spark_engine  # the JVM is already up: transform used it

        spark = spark_engine.SparkSettings.from_project(ctx.project)
        spark_engine.publish_spark(spark, ctx.storage, ctx.project.warehouse_path,
                                   progress=lambda name: stage.advance(detail=name))
    else:
        publish(ctx.project.warehouse_path, ctx.storage, progress=lambda name: stage.advance(detail=name),
                memory_limit=ctx.project.config.warehouse.memory_limit)
    stage.done()
    serving = ctx.reporter.stage("serving store")
    refresh_serving(ctx.project, ctx.result.batch_ids, progress=lambda n: serving.advance(detail=f"{n:,} lines"))
    serving.done()
    ctx.result.layer_rows, ctx.result.quarantine = (
        spark_engine.layer_counts(spark, ctx.state) if spark else layer_counts(ctx.project, ctx.state))


STAGES: tuple[tuple[str, Callable[[RunContext], None]], ...] = (
    ("extract", stage_extract),
    ("bronze", stage_bronze),
    ("transform", stage_transform),
    ("quality", stage_quality),
    ("publish", stage_publish),
)


def settle_status(ctx: RunContext) -> None:
    """succeeded / partial (an optional source failed, or files were rejected) / failed (a required source did)."""
    result, sources = ctx.result, ctx.project.config.sources
    from cartflow.lake.raw import rejected_in_run, rejection_of

    for m in rejected_in_run(ctx.state, result.run_id):
        why = rejection_of(m)
        result.rejected_files[f"{m.source}/{why.get('file', m.source_file)}"] = f"{why.get('code')}: {why.get('reason')}"
    required_failed = [s for s in result.failed_sources if getattr(sources.get(s), "required", True)]
    if required_failed:
        result.status = "failed"
        result.error = "; ".join(result.failed_sources[s] for s in required_failed)
    elif result.failed_sources or result.rejected_files:
        result.status = "partial"
        rejected = (f"{len(result.rejected_files)} file(s) rejected (`cartflow dlq list files`): "
                    + "; ".join(f"{k} ({v.split(':', 1)[0]})" for k, v in result.rejected_files.items())
                    if result.rejected_files else "")
        result.error = "; ".join([*result.failed_sources.values(), *([rejected] if rejected else [])])
    else:
        result.status = "succeeded"


def extract_all(project: Project, storage: Storage, state: SqliteState, reporter: Reporter,
                result: RunResult) -> int:
    """Land every new file of every enabled source in raw, each source retried with backoff.

    A failing source does not stop the others. Retrying is safe: a batch already landed
    (same content hash) is not landed again.
    """
    landed = 0
    for name, source in project.config.sources.items():
        if not source.enabled:
            continue
        started = utcnow()
        t0 = time.perf_counter()

        def on_retry(attempt: int, exc: BaseException, wait: float, name: str = name) -> None:
            log.warning("source %s failed (attempt %d), retrying in %.1fs: %s", name, attempt, wait, exc,
                        extra={"source": name, "attempt": attempt})
            reporter.message(f"source {name}: attempt {attempt} failed ({exc}); retrying in {wait:.1f}s")

        outcome = call_with_retry(
            lambda name=name, source=source: extract(project, storage, state, reporter, name, source, result.run_id),
            policy_for_source(project, name), on_retry=on_retry)
        seconds = round(time.perf_counter() - t0, 3)
        if not outcome.ok:
            result.failed_sources[name] = f"{name}: {outcome.error} (after {outcome.attempts} attempt(s))"
            log.error("source %s failed after %d attempt(s): %s", name, outcome.attempts, outcome.error,
                      extra={"source": name, "attempts": outcome.attempts})
            state.record_task(result.run_id, f"extract:{name}", "failed", started_at=started, seconds=seconds,
                              attempts=outcome.attempts, error=str(outcome.error))
            continue
        n = outcome.value or 0
        landed += n
        log.info("source %s: %d new batch(es)", name, n, extra={"source": name, "attempts": outcome.attempts})
        state.record_task(result.run_id, f"extract:{name}", "succeeded", started_at=started, seconds=seconds,
                          rows=n, attempts=outcome.attempts)
    return landed


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
        from cartflow.pipeline.entity_settings import entity_layer_counts

        more_layers, more_reasons = entity_layer_counts(con)
        layers.update(more_layers)
        reasons.update(more_reasons)
    finally:
        con.close()
    return layers, reasons


def _range(restate: "Restatement | None") -> str | None:
    return restate.describe() if restate else None


def _stats(result: RunResult) -> dict[str, Any]:
    return {"new_batches": result.new_batches, "stage_seconds": result.stage_seconds,
            "layer_rows": result.layer_rows, "quarantine": result.quarantine,
            "failed_sources": result.failed_sources, "rejected_files": result.rejected_files, "warnings": result.warnings,
            "breaches": [asdict(b) for b in result.breaches], "restated": result.restated,
            "crashed_run": result.crashed_run}


def _reconciliation_errors() -> tuple[type[BaseException], ...]:
    from cartflow.transform import runner

    return (ReconciliationError,) + ((runner.ReconciliationError,) if hasattr(runner, "ReconciliationError") else ())


RECONCILIATION_ERRORS = _reconciliation_errors()


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
        log.debug("stage %s started", self.name, extra={"stage": self.name})

    def __exit__(self, exc_type, exc, tb) -> None:
        seconds = round(time.perf_counter() - self.t0, 3)
        self.timer.result.stage_seconds[self.name] = seconds
        log.info("stage %s %s in %.2fs", self.name, "failed" if exc else "done", seconds,
                 extra={"stage": self.name, "seconds": seconds})
        self.timer.state.record_task(self.timer.result.run_id, self.name,
                                     "failed" if exc else "succeeded", started_at=self.started,
                                     seconds=seconds, error=str(exc) if exc else None)
