"""An Airflow DAG running cartflow's stages, one task each (the original system's Airflow role).

In a file in Airflow's dags folder::

    from cartflow.orchestrators.airflow import make_dag

    dag = make_dag("/srv/shop")                       # schedule from [schedule.jobs], if one job
    dag = make_dag("/srv/shop", schedule="0 2 * * *")  # or explicit

Tasks: extract → bronze → transform → quality → publish → finish. Each runs under the
project lock and records itself in cartflow's run history (`cartflow runs` shows Airflow
runs beside CLI ones, as `af-<airflow run id>`). `max_active_runs=1`, and catchup follows
`[schedule] catchup` (default false, as in Airflow). Requires apache-airflow 2.9+ or 3.x
installed beside cartflow; cartflow itself never imports Airflow unless this module is used.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cartflow.config import load_project
from cartflow.orchestrators import TASKS, run_stage_task


def _airflow() -> tuple[Any, Any]:
    try:
        from airflow.sdk import DAG, task  # Airflow 3
    except ImportError:
        try:
            from airflow import DAG  # Airflow 2
            from airflow.decorators import task
        except ImportError as exc:
            raise ImportError("cartflow.orchestrators.airflow needs Apache Airflow: "
                              "pip install 'apache-airflow==3.3.2' beside cartflow") from exc
    return DAG, task


def default_schedule(project: Any) -> str | None:
    """The cron of the project's only enabled [schedule.jobs] entry; None (manual) otherwise."""
    jobs = [j for j in project.config.schedule.jobs.values() if j.enabled]
    return jobs[0].cron if len(jobs) == 1 else None


def make_dag(project_dir: str | Path, *, dag_id: str | None = None, schedule: str | None = "from-config",
             start_date: datetime | None = None, catchup: bool | None = None, retries: int = 0,
             retry_delay: timedelta = timedelta(minutes=5), **dag_kwargs: Any) -> Any:
    """Build the DAG for the project in `project_dir` (read once here, again by every task).

    `retries` are Airflow task retries on top of cartflow's own per-source retries.
    """
    DAG, task = _airflow()
    project_dir = str(Path(project_dir).resolve())
    project = load_project(project_dir)
    tz = project.config.schedule.timezone
    if schedule == "from-config":
        schedule = default_schedule(project)
    if start_date is None:
        import pendulum

        start_date = pendulum.datetime(2024, 1, 1, tz=tz)
    dag = DAG(
        dag_id=dag_id or f"cartflow_{project.config.project.name}".replace("-", "_"),
        schedule=schedule,
        start_date=start_date,
        catchup=project.config.schedule.catchup if catchup is None else catchup,
        max_active_runs=1,
        default_args={"retries": retries, "retry_delay": retry_delay},
        tags=["cartflow"],
        doc_md=f"cartflow pipeline for `{project_dir}`: the same stages as `cartflow run`.",
        **dag_kwargs,
    )
    with dag:
        previous = None
        for name in TASKS:
            previous = _stage_task(task, name, project_dir)(previous) if previous is not None \
                else _stage_task(task, name, project_dir)()
    return dag


def _stage_task(task: Any, name: str, project_dir: str) -> Any:
    if name == "extract":
        @task(task_id=name)
        def first(**context: Any) -> dict[str, Any]:
            return run_stage_task(project_dir, name, None, orchestrator_run_id=str(context.get("run_id") or ""))

        return first

    @task(task_id=name)
    def stage(carried: dict[str, Any]) -> dict[str, Any]:
        return run_stage_task(project_dir, name, carried)

    return stage
