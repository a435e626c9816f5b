"""`cartflow run`: extract → bronze → silver → gold → quality → publish, as one recorded run.

This module is the stages: plain functions over a `RunContext`. How a run holds the
lock, records itself, applies the rules (a required source failed: standardize and
publish nothing) and ends honestly (`succeeded`, `partial`, `failed`, `interrupted`) is
`cartflow.pipeline.lifecycle.RunLifecycle`, the one lifecycle that `run_pipeline` here
(the CLI, the scheduler, `watch`, a quarantine replay) and every orchestrator task
(`cartflow.orchestrators`) go through. Each source is retried with backoff; alerts go
out after the lock is released, and never fail the run.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import TYPE_CHECKING

from cartflow.config import Project
from cartflow.lake.storage import Storage
from cartflow.pipeline import publish_due
from cartflow.pipeline.lifecycle import RunContext, RunLifecycle, RunResult, Stage, new_run_id
from cartflow.pipeline.quality import check_quality
from cartflow.pipeline.standardize import run_models, to_bronze, transform_settings
from cartflow.runtime.progress import Reporter
from cartflow.runtime.retry import call_with_retry, policy_for_source
from cartflow.runtime.state import StateStore, utcnow
from cartflow.sources import extract
from cartflow.transform import ledger
from cartflow.transform.runner import published_models
from cartflow.transform.warehouse import open_warehouse

if TYPE_CHECKING:
    from cartflow.pipeline.backfill import Restatement

__all__ = ["STAGES", "RunContext", "RunResult", "extract_all", "layer_counts", "new_run_id", "run_pipeline"]

log = logging.getLogger(__name__)


def run_pipeline(project: Project, *, trigger: str = "manual", reporter: Reporter | None = None,
                 restate: Restatement | None = None, run_id: str | None = None,
                 select: tuple[str, ...] = (), full_refresh: bool = False) -> RunResult:
    """One whole run under the project lock; `restate` restates a date range (or given batches).

    Raises `LockHeld` when another run holds the lock, and re-raises a `KeyboardInterrupt`
    (`Interrupted` for SIGTERM) after recording the run as interrupted; any other error
    is the run's: it returns with `status == "failed"`.
    """
    with RunLifecycle(project, trigger=trigger, reporter=reporter, restate=restate, run_id=run_id,
                      select=select, full_refresh=full_refresh) as run:
        for name, stage in STAGES:
            run.stage(name, stage)
        run.finish()
    return run.result


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
        outcome = run_models(ctx.project, ctx.storage, ctx.state, ctx.reporter, select=ctx.select,
                             full_refresh=ctx.full_refresh)
        ctx.result.batch_ids = [m.batch_id for m in outcome.batches]
        # A lake that never took a batch has nothing to publish, even when SQLMesh created its
        # (empty) models: `sql`, the dashboard and the CLI keep saying "nothing published yet".
        ctx.result.models_ran = outcome.ran and bool(ctx.result.batch_ids or ctx.state.manifests())
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
    """Marts, then the serving store, for this run's batches and any an earlier run left unpublished."""
    # imported here: a run with nothing new decides so without loading DuckDB and pyarrow
    from cartflow.publish.marts import publish
    from cartflow.publish.serving import refresh_serving

    earlier = sorted(set(publish_due.owed(ctx.project) or []) - set(ctx.result.batch_ids))
    if earlier:
        ctx.result.warnings.append(f"publishing {len(earlier)} batch(es) an earlier run took through gold but did "
                                   "not publish (it was interrupted or failed)")
    stage = ctx.reporter.stage("publish")
    warehouse = open_warehouse(ctx.project, ctx.storage)
    publish(warehouse, ctx.storage, progress=lambda name: stage.advance(detail=name),
            tables=published_models(transform_settings(ctx.project, ctx.storage, write=False)))
    stage.done()
    serving = ctx.reporter.stage("serving store")
    refresh_serving(ctx.project, [*ctx.result.batch_ids, *earlier],
                    progress=lambda n: serving.advance(detail=f"{n:,} lines"))
    serving.done()
    publish_due.settled(ctx.project)
    ctx.result.layer_rows, ctx.result.quarantine = layer_counts(ctx.project, ctx.state)


STAGES: tuple[tuple[str, Stage], ...] = (
    ("extract", stage_extract),
    ("bronze", stage_bronze),
    ("transform", stage_transform),
    ("quality", stage_quality),
    ("publish", stage_publish),
)


def extract_all(project: Project, storage: Storage, state: StateStore, reporter: Reporter,
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
            functools.partial(extract, project, storage, state, reporter, name, source, result.run_id),
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


def layer_counts(project: Project, state: StateStore) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per layer (all batches so far) and quarantine rows by reason, read after the models ran."""
    raw = sum(m.rows or 0 for m in state.manifests(status="transformed"))
    return ledger.layer_counts(open_warehouse(project), raw)
