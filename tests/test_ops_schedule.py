"""`cartflow scheduler`: cron jobs, missed runs skipped (default) or caught up, with an injected clock."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from cartflow.config import ConfigError, Project, load_project
from cartflow.pipeline.schedule import Scheduler, fire_times, serve
from cartflow.runtime.backends import open_state
from cartflow.runtime.lock import LockHeld

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday, 01:00


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Runner:
    """Records triggers instead of running the pipeline (the pipeline has its own tests)."""

    def __init__(self) -> None:
        self.triggers: list[str] = []
        self.lock_held = False

    def __call__(self, trigger: str) -> SimpleNamespace:
        if self.lock_held:
            raise LockHeld("another run holds the project lock: pid 1 on test")
        self.triggers.append(trigger)
        return SimpleNamespace(status="succeeded", run_id=f"r{len(self.triggers)}")


def with_schedule(project: Project, body: str) -> Project:
    path = project.root / "cartflow.toml"
    path.write_text(path.read_text() + body)
    return load_project(project.root)


NIGHTLY = """
[schedule.jobs.nightly]
cron = "0 2 * * *"
"""


def scheduler(project: Project, clock: Clock, runner: Runner) -> Scheduler:
    return Scheduler(project, clock=clock, runner=runner)


def test_fire_times_honour_the_time_zone_across_dst() -> None:
    london = ZoneInfo("Europe/London")
    start = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    times = fire_times("0 2 * * *", start, start + timedelta(days=3), london)
    # 02:00 in London is 02:00Z in winter, and 01:00Z once the clocks go forward (29 March 2026)
    assert [t.isoformat() for t in times] == ["2026-03-28T02:00:00+00:00", "2026-03-29T01:00:00+00:00",
                                              "2026-03-30T01:00:00+00:00"]


def test_a_new_job_does_not_run_for_the_past_then_runs_when_due(project: Project) -> None:
    project, clock, runner = with_schedule(project, NIGHTLY), Clock(T0), Runner()
    s = scheduler(project, clock, runner)
    try:
        assert s.tick() == [] and runner.triggers == []
        clock.now = T0 + timedelta(minutes=59)
        assert s.tick() == []
        clock.now = T0 + timedelta(hours=1, seconds=5)
        [fired] = s.tick()
        assert (fired.status, fired.skipped) == ("succeeded", [])
        assert runner.triggers == ["schedule:nightly@2026-03-02T02:00:00+00:00"]
        assert s.tick() == []  # not twice for the same fire time
        assert s.next_wakeup() == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    finally:
        s.close()


def test_missed_runs_are_skipped_by_default(project: Project) -> None:
    project, clock, runner = with_schedule(project, NIGHTLY), Clock(T0), Runner()
    s = scheduler(project, clock, runner)
    try:
        s.tick()
        clock.now = T0 + timedelta(days=3, hours=5)  # the scheduler was down for 3 fire times
        [fired] = s.tick()
        assert runner.triggers == ["schedule:nightly@2026-03-05T02:00:00+00:00"]  # only the latest
        assert [t.day for t in fired.skipped] == [2, 3, 4]
    finally:
        s.close()


def test_missed_runs_are_caught_up_in_order_when_configured(project: Project) -> None:
    project = with_schedule(project, "\n[schedule]\ncatchup = true\nmax_catchup_runs = 2\n" + NIGHTLY)
    clock, runner = Clock(T0), Runner()
    s = scheduler(project, clock, runner)
    try:
        s.tick()
        clock.now = T0 + timedelta(days=2, hours=5)
        fired = s.tick()
        assert [f.at.day for f in fired] == [3, 4] and [t.day for t in fired[0].skipped] == [2]
        assert runner.triggers == ["schedule:nightly@2026-03-03T02:00:00+00:00",
                                   "schedule:nightly@2026-03-04T02:00:00+00:00"]
    finally:
        s.close()


def test_catchup_survives_a_restart_because_the_last_fire_is_in_the_state_store(project: Project) -> None:
    project = with_schedule(project, NIGHTLY.replace('"0 2 * * *"', '"0 2 * * *"\ncatchup = true'))
    clock, runner = Clock(T0), Runner()
    first = scheduler(project, clock, runner)
    first.tick()
    first.close()  # the scheduler goes down...
    clock.now = T0 + timedelta(days=1, hours=5)
    second = scheduler(project, clock, runner)  # ...and a new process comes up
    try:
        assert [f.at.day for f in second.tick()] == [2, 3]
    finally:
        second.close()
    state = open_state(project)
    try:
        assert state.watermark("_schedule", "nightly") == "2026-03-03T02:00:00+00:00"
    finally:
        state.close()


def test_a_held_lock_postpones_the_run_without_losing_it(project: Project) -> None:
    project, clock, runner = with_schedule(project, NIGHTLY), Clock(T0), Runner()
    s = scheduler(project, clock, runner)
    try:
        s.tick()
        clock.now = T0 + timedelta(hours=2)
        runner.lock_held = True
        assert [f.status for f in s.tick()] == ["lock_held"]
        runner.lock_held = False
        clock.now = T0 + timedelta(hours=2, seconds=30)
        assert [f.status for f in s.tick()] == ["succeeded"]
        assert runner.triggers == ["schedule:nightly@2026-03-02T02:00:00+00:00"]
    finally:
        s.close()


def test_serve_once_and_one_scheduler_per_project(project: Project) -> None:
    project, runner = with_schedule(project, NIGHTLY), Runner()
    clock = Clock(T0)
    assert serve(project, threading.Event(), once=True, clock=clock, runner=runner) == []
    clock.now = T0 + timedelta(hours=2)
    assert [f.job for f in serve(project, threading.Event(), once=True, clock=clock, runner=runner)] == ["nightly"]
    assert not (project.work_dir / "scheduler.lock").exists()


def test_invalid_cron_is_a_clear_config_error(project: Project) -> None:
    with pytest.raises(ConfigError, match=r"schedule.jobs.nightly.cron = '0 2 \* \*'.*not a valid cron"):
        with_schedule(project, '\n[schedule.jobs.nightly]\ncron = "0 2 * *"\n')


def test_cli_lists_jobs(project: Project) -> None:
    project = with_schedule(project, NIGHTLY)
    out = subprocess.run([sys.executable, "-m", "cartflow.cli", "scheduler", "--list", "-p", str(project.root)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "nightly" in out.stdout and "0 2 * * *" in out.stdout


def test_a_run_that_cannot_start_is_logged_and_the_schedule_goes_on(project: Project) -> None:
    project, clock = with_schedule(project, NIGHTLY), Clock(T0)

    def broken(trigger: str):
        raise OSError("disk full")

    s = Scheduler(project, clock=clock, runner=broken)
    try:
        s.tick()
        clock.now = T0 + timedelta(hours=2)
        assert [f.status for f in s.tick()] == ["error"]
        assert s.tick() == []  # not retried in a loop: it waits for the next fire time
    finally:
        s.close()
