"""The run lifecycle under real signals and real kills: interrupted runs, orphaned workers, crash chains."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

import cartflow.pipeline.run as run_mod
from cartflow.config import Project
from cartflow.pipeline.alerts import read_alert_log
from cartflow.pipeline.run import run_pipeline
from cartflow.pipeline.standardize import ModelsOutcome
from cartflow.runtime.backends import open_state
from cartflow.runtime.lock import RunLock
from conftest import write_csv

ROW = "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom"


def poll(condition, what: str, timeout: float = 180.0, proc: subprocess.Popen | None = None):
    """Wait for `condition()` to return something truthy (and the process, if given, to live)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended ({proc.returncode}) before {what}: "
                                 f"{proc.stderr.read()[-3000:] if proc.stderr else ''}")
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def running_task(project: Project, task: str) -> str | None:
    """The run id whose `task` is recorded `running` (read-only: the run is writing this file)."""
    if not project.state_path.exists():
        return None
    con = sqlite3.connect(f"file:{project.state_path}?mode=ro", uri=True, timeout=5)
    try:
        row = con.execute("SELECT run_id FROM run_tasks WHERE task=? AND status='running'", (task,)).fetchone()
    except sqlite3.OperationalError:  # tables not created yet
        return None
    finally:
        con.close()
    return row[0] if row else None


def cli_run(project: Project) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cartflow.cli", "run", "-p", str(project.root), "--log-format",
                             "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_stage_records_the_run_interrupted_and_releases_the_lock(
        project: Project, landing: Path, signum: int) -> None:
    write_csv(landing / "day1.csv", [ROW])
    proc = cli_run(project)
    try:
        run_id = poll(lambda: running_task(project, "transform"), "the transform stage to start", proc=proc)
        os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signum, err[-3000:]
    name = signal.Signals(signum).name
    assert f"interrupted ({name}) during stage transform: run {run_id}" in err
    state = open_state(project)
    try:
        run = state.run(run_id)
    finally:
        state.close()
    assert run["status"] == "interrupted" and run["finished_at"]
    assert run["error"] == f"interrupted by {name} during stage transform"
    tasks = {t["task"]: t["status"] for t in run["tasks"]}
    assert tasks == {"extract": "succeeded", "extract:online_retail": "succeeded", "bronze": "succeeded",
                     "transform": "interrupted"}
    assert not (project.work_dir / "run.lock").exists(), "released, not left for crash recovery"
    with RunLock(project.work_dir / "run.lock", "next") as nxt:
        assert nxt.recovered is None


@pytest.mark.slow
def test_kill_9_at_start_up_leaves_no_process_behind(project: Project, landing: Path) -> None:
    """SQLMesh forks a model-loading pool; killed with SIGKILL, the run takes it with it."""
    write_csv(landing / "day1.csv", [ROW])
    workers = 2  # SQLMesh's pool size (one per CPU by default): fixed, so the test waits for all of them
    proc = subprocess.Popen([sys.executable, "-m", "cartflow.cli", "run", "-p", str(project.root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # orphans would hold pipes
                            env={**os.environ, "MAX_FORK_WORKERS": str(workers)})
    cli = psutil.Process(proc.pid)
    children: list[psutil.Process] = []
    try:
        children = poll(lambda: (lambda c: c if len(c) >= workers else None)(cli.children(recursive=True)),
                        "the run to fork its workers", proc=proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)

        def gone() -> bool:
            return all(not c.is_running() or c.status() == psutil.STATUS_ZOMBIE for c in children)

        poll(gone, f"the {len(children)} forked worker(s) of the killed run to die", timeout=60)
    finally:
        for c in children:
            if c.is_running():
                c.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with RunLock(project.work_dir / "run.lock", "next") as nxt:  # no orphan keeps the lock either
        assert nxt.recovered is not None and nxt.recovered.pid == proc.pid


HANG_IN_EXTRACT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import cartflow.pipeline.run as run_mod
    from cartflow.config import load_project

    ready = Path(sys.argv[2])

    def hang(*args, **kwargs):
        ready.write_text("holding")
        time.sleep(600)   # killed long before this ends

    run_mod.extract = hang
    run_mod.run_pipeline(load_project(sys.argv[1]), trigger="crash-test")
""")


def crash_a_run(project: Project, ready: Path) -> str:
    """A run that takes the lock (recovering whatever it finds) and is killed with SIGKILL mid-extract."""
    child = subprocess.Popen([sys.executable, "-c", HANG_IN_EXTRACT, str(project.root), str(ready)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        poll(ready.exists, "the child to take the lock", proc=child)
        run_id = json.loads((project.work_dir / "run.lock").read_text())["run_id"]
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return run_id


@pytest.mark.slow
def test_one_run_crashed_alert_per_crashed_run_along_a_chain(project: Project, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A run crashes; the run that recovers it crashes too, before alerting; the third alerts both, once."""
    monkeypatch.setattr(run_mod, "run_models", lambda *a, **k: ModelsOutcome([], ran=False))
    first = crash_a_run(project, tmp_path / "ready-1")
    second = crash_a_run(project, tmp_path / "ready-2")  # recovers the first, dies before its alerts go out
    assert [a for a in read_alert_log(project) if a["kind"] == "run_crashed"] == []

    third = run_pipeline(project)
    assert third.status == "succeeded", third.error
    assert third.crashed_run["run_id"] == second
    crashed = [a["run_id"] for a in read_alert_log(project) if a["kind"] == "run_crashed"]
    assert sorted(crashed) == sorted([first, second])
    state = open_state(project)
    try:
        assert [state.run(r)["status"] for r in (first, second)] == ["failed", "failed"]
    finally:
        state.close()

    assert run_pipeline(project).status == "succeeded"
    again = [a["run_id"] for a in read_alert_log(project) if a["kind"] == "run_crashed"]
    assert again == crashed, "no crash is alerted twice"


@pytest.mark.slow
def test_every_way_of_writing_is_refused_while_a_run_holds_the_lock(project: Project, tmp_path: Path) -> None:
    """The scheduler, watch, Airflow tasks and dlq replay take the one lock `cartflow run` takes."""
    from cartflow.orchestrators import run_stage_task
    from cartflow.pipeline.project_lock import ProjectLock
    from cartflow.pipeline.schedule import Scheduler
    from cartflow.pipeline.watch import watcher_for
    from cartflow.runtime.lock import LockHeld

    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", HANG_IN_EXTRACT, str(project.root), str(ready)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    scheduler = Scheduler(project)
    try:
        poll(ready.exists, "the child to take the lock", proc=child)
        holder = json.loads((project.work_dir / "run.lock").read_text())["run_id"]
        attempts = {
            "cartflow run": lambda: run_pipeline(project),
            "scheduler": lambda: scheduler.runner("schedule:nightly@2026-01-01T02:00:00+00:00"),
            "watch": lambda: watcher_for(project).runner("watch"),
            "airflow task": lambda: run_stage_task(project.root, "extract", None, orchestrator_run_id="manual__x"),
            "dlq replay files": lambda: ProjectLock(project, "dlq-replay-files").__enter__(),
        }
        for who, attempt in attempts.items():
            with pytest.raises(LockHeld, match=f"pid {child.pid}") as refused:
                attempt()
            assert holder in str(refused.value), who
    finally:
        scheduler.close()
        child.kill()
        child.communicate()
    state = open_state(project)
    try:
        assert [r["run_id"] for r in state.runs()] == [holder], "a refused writer records nothing"
    finally:
        state.close()
