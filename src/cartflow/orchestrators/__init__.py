"""Production orchestrators running the same pipeline stages as `cartflow run`.

`cartflow.orchestrators.airflow.make_dag(project_dir)` builds an Airflow DAG with one
task per stage: extract → bronze → transform → quality → publish → finish. Each task
calls `run_stage_task`, which runs the very stage function `cartflow run` runs, under the
project lock, records it in the same run history, and hands the run's result to the next
task (Airflow's XCom). Airflow is not a cartflow dependency: install it beside cartflow
where the DAG runs (`pip install apache-airflow==3.3.2 cartflow`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from cartflow.config import load_project

TASKS = ("extract", "bronze", "transform", "quality", "publish", "finish")


def run_id_for(orchestrator_run_id: str | None) -> str:
    """A cartflow run id for an orchestrator's run (Airflow's `manual__2026-…` ids), file-name safe."""
    from cartflow.pipeline.run import new_run_id

    if not orchestrator_run_id:
        return new_run_id()
    return "af-" + re.sub(r"[^A-Za-z0-9._-]+", "-", orchestrator_run_id).strip("-")[:80]


def run_stage_task(project_dir: str | Path, stage: str, carried: dict[str, Any] | None = None, *,
                   orchestrator_run_id: str | None = None, trigger: str = "airflow") -> dict[str, Any]:
    """Run one stage of a run and return the run's result so far (JSON-able, for the next task).

    The first task (`extract`) starts the run record; `finish` settles the honest final
    status and sends the alerts. A stage that raises marks the run failed, alerts, and
    re-raises so the orchestrator marks its task failed too.
    """
    from cartflow.pipeline.alerts import notify_run
    from cartflow.runtime.lock import RunLock
    from cartflow.runtime.logs import run_context
    from cartflow.runtime.progress import QuietReporter
    from cartflow.pipeline.run import STAGES, RunContext, RunResult, _stats, _Timer, fail, settle_status
    from cartflow.lake.storage import open_lake
    from cartflow.runtime.backends import open_state

    if stage not in TASKS:
        raise ValueError(f"unknown stage {stage!r}: allowed are {', '.join(TASKS)}")
    project = load_project(project_dir)
    result = RunResult.from_dict(carried) if carried else RunResult(run_id_for(orchestrator_run_id), "running")
    failed = False
    with run_context(result.run_id), RunLock(project.work_dir / "run.lock", result.run_id):
        state = open_state(project)
        try:
            if carried is None and state.run(result.run_id) is None:
                state.start_run(result.run_id, trigger)
            ctx = RunContext(project, open_lake(project), state, QuietReporter(), result)
            try:
                if stage == "finish":
                    settle_status(ctx)
                    result.seconds = round(sum(result.stage_seconds.values()), 3)
                    state.finish_run(result.run_id, result.status, result.error, _stats(result))
                elif stage != "publish" or result.batch_ids:
                    t0 = time.perf_counter()
                    with _Timer(state, result)(stage):
                        dict(STAGES)[stage](ctx)
                    result.seconds = round(result.seconds + time.perf_counter() - t0, 3)
            except Exception as exc:
                failed = True
                fail(result, exc)
                state.finish_run(result.run_id, "failed", result.error, _stats(result))
                raise
        finally:
            state.close()
            if failed or stage == "finish":
                notify_run(project, result)
    return result.to_dict()
