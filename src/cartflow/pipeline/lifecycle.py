"""One run's lifecycle, for every way a run starts, so a rule cannot hold in one and not another.

`cartflow run`, the scheduler, `watch` and a quarantine replay run every stage in one
process (`run_pipeline`); an orchestrator runs one stage per task, each task a new
process, the run's result carried between them (`cartflow.orchestrators`). Both are a
`RunLifecycle`:

    with RunLifecycle(project, trigger="manual") as run:   # lock, crash recovery, run record
        for name, stage in STAGES:
            run.stage(name, stage)                         # the rules decide; timed, recorded
        run.finish()                                       # honest status, record closed
    # lock released, then alerts

The rules live here once: a required source failed, so nothing is standardized or
published (its batches wait for the next run); nothing to publish without new batches,
unless an earlier run changed the warehouse and died before publishing (pipeline/publish_due.py);
the status is `succeeded`, `partial` (an optional source failed), `failed` or
`interrupted` (SIGINT/SIGTERM: the record names the stage it reached); a run that died
holding the lock is closed as `failed` by the next one, with one `run_crashed` alert.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable

from cartflow.config import Project
from cartflow.lake.raw import rejected_in_run, rejection_of
from cartflow.lake.storage import Storage, open_lake
from cartflow.pipeline import publish_due
from cartflow.pipeline.alerts import notify_run
from cartflow.pipeline.project_lock import ProjectLock
from cartflow.pipeline.quality import Breach, reconciliation_breach
from cartflow.pipeline.standardize import ReconciliationError
from cartflow.runtime.children import children_die_with_run
from cartflow.runtime.logs import run_context
from cartflow.runtime.progress import QuietReporter, Reporter
from cartflow.runtime.signals import Interrupted, signal_name
from cartflow.runtime.state import StateStore, utcnow

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
    models_ran: bool = False
    """SQLMesh evaluated models (new batches, a changed model, --select, --full-refresh): publish follows."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        data = dict(data)
        data["breaches"] = [Breach(**b) for b in data.get("breaches", [])]
        return cls(**data)

    def stats(self) -> dict[str, Any]:
        """What the run record keeps besides status and error (`runs.stats`, JSON)."""
        return {"new_batches": self.new_batches, "stage_seconds": self.stage_seconds,
                "layer_rows": self.layer_rows, "quarantine": self.quarantine,
                "failed_sources": self.failed_sources, "rejected_files": self.rejected_files,
                "warnings": self.warnings,
                "breaches": [asdict(b) for b in self.breaches], "restated": self.restated,
                "crashed_run": self.crashed_run}


@dataclass
class RunContext:
    """What every stage works on: the project, its lake and state, and the run's result so far."""

    project: Project
    storage: Storage
    state: StateStore
    reporter: Reporter
    result: RunResult
    restate: Restatement | None = None
    select: tuple[str, ...] = ()
    """`--select`: the models to evaluate (`model+`: and downstream)."""
    full_refresh: bool = False


Stage = Callable[[RunContext], None]


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


class RunLifecycle:
    """A run (or, `orchestrated`, one task of a run) from taking the lock to the alerts.

    `carried`: the result so far, from the previous task of an orchestrated run.
    `orchestrated`: errors are re-raised after being recorded (the orchestrator must see the
    task fail), and the run's seconds are its stages' seconds (its tasks run apart).
    Otherwise a failed stage ends the block normally with `result.status == "failed"`.
    A `KeyboardInterrupt` (Ctrl-C, or `Interrupted` from SIGTERM) is recorded and re-raised.
    """

    def __init__(self, project: Project, *, trigger: str = "manual", reporter: Reporter | None = None,
                 restate: Restatement | None = None, run_id: str | None = None,
                 carried: dict[str, Any] | None = None, orchestrated: bool = False,
                 select: tuple[str, ...] = (), full_refresh: bool = False) -> None:
        self.project, self.trigger, self.restate = project, trigger, restate
        self.select, self.full_refresh = select, full_refresh
        self.reporter = reporter or QuietReporter()
        self.result = RunResult.from_dict(carried) if carried else RunResult(run_id or new_run_id(), "running")
        self.carried, self.orchestrated = carried is not None, orchestrated
        self.stage_reached: str | None = None
        self.recorded = self.carried
        """The run record exists (started here or by an earlier task): the end is recorded in it."""
        self.finished = False
        self._t0 = time.perf_counter()
        self._lock: ProjectLock | None = None
        self._logs = run_context(self.result.run_id)
        self._children = children_die_with_run()

    # -- entering: lock, crash recovery, the run record ---------------------------------
    def __enter__(self) -> RunLifecycle:
        self._logs.__enter__()
        self._children.__enter__()
        try:
            self._lock = ProjectLock(self.project, self.result.run_id, self.reporter).__enter__()
        except BaseException:
            self._children.__exit__(None, None, None)
            self._logs.__exit__(None, None, None)
            raise
        try:
            self._start()
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)  # recorded, lock released: the caller sees it
            raise
        return self

    @property
    def state(self) -> StateStore:
        assert self._lock is not None and self._lock.state is not None, "use the lifecycle in a with block"
        return self._lock.state

    def _start(self) -> None:
        crash = self._lock.crash if self._lock else None
        if crash is not None:
            self.result.warnings.append(f"run {crash.run_id or '?'}: {crash.message}")
            self.result.crashed_run = {"run_id": crash.run_id, "pid": crash.pid, "host": crash.host,
                                       "started_at": crash.started_at}
        existing = self.state.run(self.result.run_id) if self.orchestrated else None
        if existing and existing["run_id"] == self.result.run_id:
            self.recorded = True
        if not self.recorded:
            self.state.start_run(self.result.run_id, self.trigger)
            self.recorded = True
            log.info("run started", extra={"trigger": self.trigger,
                                           "restate": self.restate.describe() if self.restate else None})

    @cached_property
    def context(self) -> RunContext:
        return RunContext(self.project, open_lake(self.project), self.state, self.reporter, self.result,
                          self.restate, self.select, self.full_refresh)

    # -- the rules ------------------------------------------------------------------
    def required_failed(self) -> list[str]:
        sources = self.project.config.sources
        return [s for s in self.result.failed_sources if getattr(sources.get(s), "required", True)]

    def skip_reason(self, name: str) -> str | None:
        """Why stage `name` must not run now (None: it runs)."""
        if name != "extract" and self.required_failed():
            return f"required source(s) failed: {', '.join(self.required_failed())}; their batches wait"
        if name == "publish" and not (self.result.batch_ids or self.result.models_ran
                                      or publish_due.owed(self.project) is not None):
            return "no new batches"
        return None

    def stage(self, name: str, stage: Stage) -> bool:
        """Run one stage if the rules allow (False: skipped), timed and recorded as a task."""
        reason = self.skip_reason(name)
        if reason:
            log.info("stage %s skipped: %s", name, reason, extra={"stage": name})
            return False
        ctx = self.context
        started, t0 = utcnow(), time.perf_counter()
        outcome, error = "failed", None
        self.stage_reached = name
        try:  # from here on a signal, wherever it lands, still closes the task
            self.state.record_task(self.result.run_id, name, "running", started_at=started)
            log.debug("stage %s started", name, extra={"stage": name})
            stage(ctx)
            outcome = "succeeded"
        except KeyboardInterrupt:
            outcome = "interrupted"
            raise
        except BaseException as exc:
            error = str(exc)
            raise
        finally:
            seconds = round(time.perf_counter() - t0, 3)
            self.result.stage_seconds[name] = seconds
            if self.orchestrated:
                self.result.seconds = round(self.result.seconds + seconds, 3)
            log.info("stage %s %s in %.2fs", name, "done" if outcome == "succeeded" else outcome, seconds,
                     extra={"stage": name, "seconds": seconds})
            self.state.record_task(self.result.run_id, name, outcome, started_at=started, seconds=seconds,
                                   error=error)
        return True

    # -- ending -----------------------------------------------------------------------
    def finish(self) -> None:
        """Settle the honest status and close the run record.

        succeeded / partial (an optional source failed, or files were rejected) / failed (a required source did).
        """
        result = self.result
        for m in rejected_in_run(self.state, result.run_id):
            why = rejection_of(m)
            result.rejected_files[f"{m.source}/{why.get('file', m.source_file)}"] = f"{why.get('code')}: {why.get('reason')}"
        required = self.required_failed()
        if required:
            result.status = "failed"
            result.error = "; ".join(result.failed_sources[s] for s in required)
        elif result.failed_sources or result.rejected_files:
            result.status = "partial"
            rejected = (f"{len(result.rejected_files)} file(s) rejected (`cartflow dlq list files`): "
                        + "; ".join(f"{k} ({v.split(':', 1)[0]})" for k, v in result.rejected_files.items())
                        if result.rejected_files else "")
            result.error = "; ".join([*result.failed_sources.values(), *([rejected] if rejected else [])])
        else:
            result.status = "succeeded"
        self._close_record()

    def _close_record(self) -> None:
        result = self.result
        result.seconds = (round(sum(result.stage_seconds.values()), 3) if self.orchestrated
                          else round(time.perf_counter() - self._t0, 3))
        self.state.finish_run(result.run_id, result.status, result.error, result.stats())
        self.finished = True

    def _interrupted(self, exc: KeyboardInterrupt) -> None:
        where = f"during stage {self.stage_reached}" if self.stage_reached else "before its first stage"
        self.result.status, self.result.error = "interrupted", f"interrupted by {signal_name(exc)} {where}"
        log.warning("run %s", self.result.error, extra={"stage": self.stage_reached})
        if isinstance(exc, Interrupted):
            exc.run_id, exc.stage = self.result.run_id, self.stage_reached
        self._close_record()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        interrupted = isinstance(exc, KeyboardInterrupt)
        try:
            if not self.recorded:
                pass  # no run record to close: the run never started (the caller sees the error)
            elif isinstance(exc, KeyboardInterrupt):
                self._interrupted(exc)
            elif isinstance(exc, Exception):
                fail(self.result, exc)
                self._close_record()
        finally:
            if self._lock is not None:
                self._lock.close(send_alerts=not interrupted)
            self._children.__exit__(None, None, None)
        try:
            if self.finished:
                log.log(logging.ERROR if self.result.status == "failed" else logging.INFO,
                        "run %s in %.1fs", self.result.status, self.result.seconds,
                        extra={"status": self.result.status, "new_batches": self.result.new_batches,
                               "error": self.result.error})
            if self.finished and not interrupted:
                notify_run(self.project, self.result)  # after the lock: slow receivers block no run
        finally:
            self._logs.__exit__(None, None, None)
        return isinstance(exc, Exception) and not self.orchestrated


def fail(result: RunResult, exc: BaseException) -> None:
    """Mark the run failed with the error; a reconciliation break is also a quality breach."""
    result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
    reconciliation = isinstance(exc, reconciliation_errors())
    if reconciliation:
        result.breaches.append(reconciliation_breach(exc))
    log.error("run failed: %s", result.error, exc_info=not reconciliation)


def reconciliation_errors() -> tuple[type[BaseException], ...]:
    from cartflow.transform import runner

    return (ReconciliationError,) + ((runner.ReconciliationError,) if hasattr(runner, "ReconciliationError") else ())
