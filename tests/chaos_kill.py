"""The machinery of the kill points: a project's input as a snapshot, a `cartflow run` killed with
SIGKILL at a chosen moment, and what the killed run had reached.

A *scenario* is a project directory frozen just before a run (input landed in its paths, stream
lines already in raw and in the serving store), plus the outcome of one uninterrupted run on it:
the reference. Every kill point restores the snapshot at the same path (SQLMesh state and the
lake keep absolute paths), runs `cartflow run`, kills it, then runs it again to the end.

A *moment* is an anchor and a seeded offset: the anchor is the process's start, or the start of
a stage as the run's own log says it (`stage <name> started`, a DEBUG line of the JSON log on
stderr). Offsets from the start alone would almost never land in the stages that take tens of
milliseconds (extract, quality) and machine load moves the boundaries by seconds, so most
moments are an offset into a chosen stage, drawn within that stage's reference duration.

What the run *reached* is read after the kill from what it left: the state store's `running`
task, and inside a stage the markers it writes: SQLMesh's plan fingerprint (written after a
plan: before it, transform was loading and planning) and `marts/_catalog.json` (written after
the marts: after it, publish was refreshing the serving store).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from cartflow.config import Project, load_project

CLI = str(Path(sys.executable).with_name("cartflow"))
STAGES = ("extract", "bronze", "transform", "quality", "publish")
LABELS = ("start-up", "extract", "bronze", "transform: plan", "transform: run", "quality", "publish: marts",
          "publish: serving store", "between stages", "after its end")
"""Where a kill can land; every one but `between stages` and `after its end` must be hit by `make chaos`.
`after its end`: the run had recorded its end (status, lock released or not) and the process was exiting."""
RUN_TIMEOUT = 900


@dataclass
class Moment:
    scenario: str
    anchor: str
    """"start" (the process started) or a stage name (the run logged that it started)."""
    offset: float

    def describe(self) -> str:
        return f"{self.scenario}: {self.anchor} + {self.offset:.3f}s"


@dataclass
class Kill:
    moment: Moment
    reached: str
    """One of LABELS, or "finished" when the run ended before the moment came."""
    seconds: float
    """When the kill came, after the process started."""
    run_id: str | None
    children: list[int] = field(default_factory=list)
    lock_holder: str | None = None
    """The run id its lock file still names ("?" when the run had no id there yet); None: it held no lock."""
    log_tail: list[str] = field(default_factory=list)


class LogWatch:
    """Reads a run's JSON log lines from its stderr as they come, and tells when a message appeared."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.lines, self.seen = proc, [], {}  # type: ignore[var-annotated]
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            now = time.monotonic()
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                self.seen.setdefault(record.get("msg"), (now, record))
                self.changed.notify_all()
        with self.changed:
            self.seen.setdefault("<eof>", (time.monotonic(), {}))
            self.changed.notify_all()

    def wait_for(self, message: str, timeout: float = RUN_TIMEOUT) -> float | None:
        """When `message` was logged (monotonic), or None when the log ended without it."""
        with self.changed:
            self.changed.wait_for(lambda: message in self.seen or "<eof>" in self.seen, timeout)
            hit = self.seen.get(message)
        return hit[0] if hit else None

    def record(self, message: str) -> dict[str, Any] | None:
        hit = self.seen.get(message)
        return hit[1] if hit else None


def spawn(root: Path) -> subprocess.Popen:
    """`cartflow run` on the project, its JSON log (DEBUG: stage starts too) on a pipe."""
    env = {**os.environ, "CARTFLOW__LOGGING__LEVEL": "DEBUG", "COLUMNS": "80"}
    return subprocess.Popen([CLI, "run", "-p", str(root), "--log-format", "json"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@dataclass
class Completed:
    returncode: int
    seconds: float
    stage_seconds: dict[str, float]
    stage_starts: dict[str, float]
    """Seconds after the process started that each stage began."""
    stdout: str
    log: list[str]


def run_to_the_end(root: Path) -> Completed:
    """An uninterrupted `cartflow run`, with when each stage started and how long it took."""
    t0 = time.monotonic()
    proc = spawn(root)
    watch = LogWatch(proc)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    proc.wait(timeout=RUN_TIMEOUT)
    seconds = time.monotonic() - t0
    watch.thread.join(timeout=60)
    starts = {s: watch.seen[f"stage {s} started"][0] - t0 for s in STAGES if f"stage {s} started" in watch.seen}
    durations = {}
    for line in watch.lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("stage") in STAGES and "seconds" in record:
            durations[record["stage"]] = float(record["seconds"])
    return Completed(proc.returncode, seconds, durations, starts, stdout, watch.lines)


def kill_at(root: Path, moment: Moment) -> Kill:
    """Start `cartflow run`, SIGKILL it at `moment`, wait for it and its forked workers to be gone."""
    t0 = time.monotonic()
    proc = spawn(root)
    watch = LogWatch(proc)
    try:
        anchor = t0 if moment.anchor == "start" else watch.wait_for(f"stage {moment.anchor} started")
        if anchor is not None:
            try:
                proc.wait(timeout=max(0.0, anchor + moment.offset - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is not None:  # the run ended before the moment came
            proc.wait()
            return Kill(moment, "finished", time.monotonic() - t0, None, log_tail=watch.lines[-20:])
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        os.kill(proc.pid, signal.SIGKILL)
        at = time.monotonic() - t0
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_gone(children)
    started = watch.record("run started")
    run_id = started.get("run_id") if started else None
    where = "after its end" if run_id and ended(load_project(root), run_id) else reached(load_project(root))
    kill = Kill(moment, where, at, run_id, [c.pid for c in children], log_tail=watch.lines[-20:])
    kill.lock_holder = lock_holder(load_project(root))
    if proc.stdout is not None:
        proc.stdout.close()
    return kill


def wait_gone(children: list[psutil.Process], timeout: float = 60.0) -> None:
    """The killed run's forked workers die with it (PR_SET_PDEATHSIG); fail if one outlives it."""
    deadline = time.monotonic() + timeout

    def alive(c: psutil.Process) -> bool:
        try:
            return c.is_running() and c.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    while any(alive(c) for c in children):
        if time.monotonic() > deadline:
            left = [c.pid for c in children if alive(c)]
            for c in children:
                if alive(c):
                    c.kill()
            raise AssertionError(f"forked worker(s) {left} outlived the killed run")
        time.sleep(0.05)


def lock_holder(project: Project) -> str | None:
    """The run id a dead holder's lock file names; None when no lock file was left."""
    try:
        text = (project.work_dir / "run.lock").read_text()
    except OSError:
        return None
    try:
        return json.loads(text).get("run_id") or "?"
    except ValueError:
        return "?"


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def ended(project: Project, run_id: str) -> bool:
    """The run had recorded its end (any status but `running`) before the kill: it was exiting. A busy
    machine lets a kill meant for a short last stage land there (found by the CI chain)."""
    con = sqlite3.connect(project.state_path, timeout=30)
    try:
        row = con.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()
    finally:
        con.close()
    return row is not None and row[0] != "running"


def reached(project: Project) -> str:
    """Which of LABELS the killed run had reached, from the state store and the markers it leaves."""
    if not project.state_path.exists():
        return "start-up"
    con = sqlite3.connect(project.state_path, timeout=30)
    try:
        try:
            run = con.execute("SELECT run_id FROM runs WHERE status='running'").fetchone()
        except sqlite3.OperationalError:  # the tables are not there yet
            return "start-up"
        if run is None:
            return "start-up"
        task = con.execute("SELECT task, started_at FROM run_tasks WHERE run_id=? AND status='running' "
                           "AND task NOT LIKE '%:%'", run).fetchone()
    finally:
        con.close()
    if task is None:
        return "between stages"
    name, started = task
    if name == "transform":
        # written once a plan is applied; a run on unchanged models (any but the first) does not plan
        marker = project.warehouse_path.with_name(f".{project.warehouse_path.name}.plan-fingerprint")
        return "transform: run" if marker.exists() else "transform: plan"
    if name == "publish":
        catalog = Path(project.lake_uri) / "marts" / "_catalog.json"
        written = catalog.exists() and catalog.stat().st_mtime >= _epoch(started)
        return "publish: serving store" if written else "publish: marts"
    return name


def restore(snapshot: Path, work: Path) -> None:
    """Put the scenario's project back at `work`, exactly as it was before the run (mtimes kept)."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(snapshot, work, symlinks=True)
