"""One run at a time: a second run names the holder; a run killed with SIGKILL is recovered."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cartflow.config import Project
from cartflow.pipeline.run import run_pipeline
from cartflow.runtime.backends import open_state
from cartflow.runtime.lock import LockHeld

CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import cartflow.pipeline.run as run_mod
    from cartflow.config import load_project

    ready = Path(sys.argv[2])

    def hang(*args, **kwargs):
        ready.write_text("holding")
        time.sleep(120)   # killed long before this ends

    run_mod.extract = hang
    run_mod.run_pipeline(load_project(sys.argv[1]), trigger="crash-test")
""")


@pytest.mark.slow
def test_crash_while_holding_the_lock_then_a_new_run_recovers(project: Project, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(project.root), str(ready)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never took the lock"
            time.sleep(0.05)
        lock = json.loads((project.work_dir / "run.lock").read_text())
        assert (lock["pid"], lock["host"]) == (child.pid, socket.gethostname())

        with pytest.raises(LockHeld) as held:  # while it lives, a second run is refused, naming it
            run_pipeline(project)
        assert f"pid {child.pid}" in str(held.value) and lock["run_id"] in str(held.value)

        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        child.stderr.close()

    result = run_pipeline(project)
    assert result.status == "succeeded", result.error
    assert result.crashed_run and result.crashed_run["pid"] == child.pid
    assert not (project.work_dir / "run.lock").exists()  # released after the recovering run
    state = open_state(project)
    try:
        crashed = state.run(lock["run_id"])
    finally:
        state.close()
    assert crashed["status"] == "failed" and f"process {child.pid}" in crashed["error"]  # no eternal 'running'
    alerts = [json.loads(line) for line in (project.work_dir / "alerts.jsonl").read_text().splitlines()]
    assert any(a["kind"] == "run_crashed" and a["run_id"] == lock["run_id"] for a in alerts)
