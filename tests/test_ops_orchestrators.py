"""The same stages as an orchestrator's tasks; and a real Airflow DAG in its own throwaway venv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import cartflow.pipeline.run as run_mod
from cartflow.config import Project, load_project
from cartflow.orchestrators import TASKS, RunFailed, run_stage_task
from cartflow.pipeline.alerts import read_alert_log
from cartflow.pipeline.run import run_pipeline
from cartflow.pipeline.standardize import ModelsOutcome, ReconciliationError
from cartflow.runtime.backends import open_state
from conftest import write_csv

REPO = Path(__file__).resolve().parents[1]
AIRFLOW = "apache-airflow==3.3.2"


@pytest.mark.slow
def test_stage_tasks_chain_into_one_recorded_run(project: Project, landing: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_mod, "run_models", lambda *a, **k: ModelsOutcome([], ran=False))
    write_csv(landing / "day1.csv", ["536365,85123A,X,6,12/1/2010 8:26,2.55,17850,United Kingdom"])
    carried = None
    for stage in TASKS:
        carried = run_stage_task(project.root, stage, carried, orchestrator_run_id="manual__2026-01-01T00:00:00+00:00")
        json.dumps(carried)  # what goes over XCom must be JSON
    assert carried["status"] == "succeeded" and carried["run_id"] == "af-manual__2026-01-01T00-00-00-00-00"
    state = open_state(project)
    try:
        run = state.run(carried["run_id"])
    finally:
        state.close()
    assert run["status"] == "succeeded" and run["trigger"] == "airflow"
    assert [t["task"] for t in run["tasks"]] == ["extract", "extract:online_retail", "bronze", "transform", "quality"]


@pytest.mark.slow
def test_a_failing_stage_task_fails_the_run_alerts_and_raises(project: Project,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*a, **k):
        raise ReconciliationError("batch b: bronze 2 != silver 1 + quarantine 0")

    monkeypatch.setattr(run_mod, "run_models", broken)
    carried = run_stage_task(project.root, "extract", None)
    carried = run_stage_task(project.root, "bronze", carried)
    with pytest.raises(ReconciliationError):
        run_stage_task(project.root, "transform", carried)
    state = open_state(project)
    try:
        assert state.run(carried["run_id"])["status"] == "failed"
    finally:
        state.close()
    assert [a["kind"] for a in read_alert_log(project)] == ["run_failed", "quality_breach"]


REQUIRED_PARTNER = """
[retries]
attempts = 2
backoff_seconds = 0.01
max_backoff_seconds = 0.02

[sources.partner_feed]
kind = "files"
path = "landing/online_retail"
required = true
"""


def whole_run(project: Project) -> str:
    return run_pipeline(project).run_id


def airflow_tasks(project: Project) -> str:
    carried = None
    for stage in TASKS:
        if stage == "finish":
            with pytest.raises(RunFailed, match="partner_feed"):  # the DAG run fails with the run
                run_stage_task(project.root, stage, carried)
            return carried["run_id"]
        carried = run_stage_task(project.root, stage, carried)
    raise AssertionError("no finish task")


@pytest.mark.slow
@pytest.mark.parametrize("start", [whole_run, airflow_tasks], ids=["cartflow-run", "airflow-tasks"])
def test_a_failed_required_source_standardizes_and_publishes_nothing_on_every_path(
        project: Project, landing: Path, monkeypatch: pytest.MonkeyPatch, start) -> None:
    """One lifecycle: the rule holds for `cartflow run` and for the orchestrator's tasks alike."""
    toml = project.root / "cartflow.toml"
    toml.write_text(toml.read_text() + REQUIRED_PARTNER)
    project = load_project(project.root)
    write_csv(landing / "day1.csv", ["536365,85123A,X,6,12/1/2010 8:26,2.55,17850,United Kingdom"])
    real, modelled = run_mod.extract, []

    def partner_down(project, storage, state, reporter, name, source, run_id):
        if name == "partner_feed":
            raise ConnectionError("partner feed is down")
        return real(project, storage, state, reporter, name, source, run_id)

    monkeypatch.setattr(run_mod, "extract", partner_down)
    monkeypatch.setattr(run_mod, "run_models", lambda *a, **k: modelled.append(1) or ModelsOutcome([], ran=False))
    run_id = start(project)
    state = open_state(project)
    try:
        run = state.run(run_id)
        manifests = state.manifests()
    finally:
        state.close()
    assert run["status"] == "failed" and "partner_feed" in run["error"]
    assert [t["task"] for t in run["tasks"]] == ["extract", "extract:online_retail", "extract:partner_feed"]
    assert [m.status for m in manifests] == ["landed"], "the healthy source's batch waits for the next run"
    assert modelled == [] and not (project.root / "lake" / "marts").exists()
    assert [a["kind"] for a in read_alert_log(project)] == ["run_failed"]


DAG_FILE = """
from cartflow.orchestrators.airflow import make_dag

dag = make_dag({project!r}, dag_id="cartflow_ops_test")
"""

DRIVER = textwrap.dedent("""
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag("cartflow_ops_test")
    assert [t.task_id for t in dag.topological_sort()] == \
        ["extract", "bronze", "transform", "quality", "publish", "finish"], dag.task_ids
    run = dag.test()
    summary = {"state": str(run.state), "catchup": dag.catchup, "max_active_runs": dag.max_active_runs}
    print("RESULT " + json.dumps(summary))
""")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_airflow_dag_imports_and_runs_in_process(project: Project, tmp_path: Path) -> None:
    """Real apache-airflow, installed into a throwaway venv (never into the project's)."""
    uv = shutil.which("uv")
    if uv is None:
        if os.environ.get("CARTFLOW_CI"):
            pytest.fail("uv is not on PATH: `make test` puts it there")
        pytest.skip("uv is needed to build the throwaway Airflow venv")
    venv = tmp_path / "airflow-venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    install = subprocess.run([uv, "pip", "install", "-q", "--python", str(py), AIRFLOW, "-e", str(REPO)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "cartflow_dag.py").write_text(DAG_FILE.format(project=str(project.root)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow-home"), AIRFLOW__CORE__DAGS_FOLDER=str(dags),
               AIRFLOW__CORE__LOAD_EXAMPLES="false", AIRFLOW__CORE__UNIT_TEST_MODE="false")
    migrate = subprocess.run([str(venv / "bin" / "airflow"), "db", "migrate"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    out = subprocess.run([str(py), "-c", DRIVER, str(dags)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-3000:])
    summary = json.loads(next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))[len("RESULT "):])
    assert summary == {"state": "success", "catchup": False, "max_active_runs": 1}
    state = open_state(project)
    try:
        [run] = state.runs()
    finally:
        state.close()
    assert run["trigger"] == "airflow" and run["status"] == "succeeded" and run["run_id"].startswith("af-manual")
