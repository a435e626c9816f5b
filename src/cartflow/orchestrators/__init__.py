"""Production orchestrators running the same pipeline stages as `cartflow run`.

`cartflow.orchestrators.airflow.make_dag(project_dir)` builds an Airflow DAG with one
task per stage: extract → bronze → transform → quality → publish → finish. Each task
calls `run_stage_task`: the run lifecycle `cartflow run` goes through (lock, crash
recovery, rules, records, alerts), one stage at a time, handing the run's result to the
next task (Airflow's XCom). Airflow is not a cartflow dependency: install it beside cartflow
where the DAG runs (`pip install apache-airflow==3.3.2 cartflow`).
"""

from __future__ import annotations

import re
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


class RunFailed(Exception):
    """The run ended `failed` (e.g. a required source failed): the `finish` task fails with it."""


def run_stage_task(project_dir: str | Path, stage: str, carried: dict[str, Any] | None = None, *,
                   orchestrator_run_id: str | None = None, trigger: str = "airflow") -> dict[str, Any]:
    """Run one stage of a run and return the run's result so far (JSON-able, for the next task).

    Each task is the same `RunLifecycle` as `cartflow run`, one stage at a time: it takes the
    project lock, recovers a crashed holder, applies the same rules (after a required source
    failed, the later stages are skipped, so nothing is standardized or published) and
    records the stage in the same run history. The first task starts the run record;
    `finish` settles the honest final status, sends the alerts, and raises `RunFailed`
    when the run failed, so the orchestrator's run is marked failed too. A stage that
    raises marks the run failed, alerts, and re-raises for the same reason.
    """
    from cartflow.pipeline.lifecycle import RunLifecycle
    from cartflow.pipeline.run import STAGES

    if stage not in TASKS:
        raise ValueError(f"unknown stage {stage!r}: allowed are {', '.join(TASKS)}")
    project = load_project(project_dir)
    run_id = None if carried else run_id_for(orchestrator_run_id)
    with RunLifecycle(project, trigger=trigger, run_id=run_id, carried=carried, orchestrated=True) as run:
        if stage == "finish":
            run.finish()
        else:
            run.stage(stage, dict(STAGES)[stage])
    if stage == "finish" and run.result.status == "failed":
        raise RunFailed(f"run {run.result.run_id} failed: {run.result.error}. See `cartflow runs {run.result.run_id}`")
    return run.result.to_dict()
