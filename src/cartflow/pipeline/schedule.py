"""`cartflow scheduler`: run the pipeline on cron schedules (the EventBridge role).

Each `[schedule.jobs.<name>]` has a cron expression. The last fire time of each job is
kept in the state store (watermark `_schedule/<job>`), so a restarted scheduler knows
what it missed: with `catchup = true` it runs every missed fire time in order (at most
`max_catchup_runs`, the most recent ones); with the default `catchup = false` it runs
once, for the latest missed time, and logs how many it skipped (Airflow's catchup=False).
A job first seen by the scheduler starts from "now": it does not run for the past.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from croniter import croniter

from cartflow.config import Project, ScheduleJob
from cartflow.runtime.lock import LockHeld, RunLock
from cartflow.runtime.state import StateStore

log = logging.getLogger(__name__)

WATERMARK_SOURCE = "_schedule"
MAX_SLEEP_SECONDS = 30.0
"""Wake at least this often, so a stop request or a clock jump is noticed promptly."""

Clock = Callable[[], datetime]
Runner = Callable[[str], Any]


@dataclass
class Fired:
    """One scheduled fire time the scheduler acted on."""

    job: str
    at: datetime
    status: str
    """The run's status, or `lock_held` (retried on the next tick)."""
    run_id: str | None = None
    skipped: list[datetime] = field(default_factory=list)


def utc_now() -> datetime:
    return datetime.now(UTC)


def fire_times(cron: str, after: datetime, until: datetime, tz: ZoneInfo) -> list[datetime]:
    """Fire times of `cron` in (after, until], in UTC; computed in `tz` so DST is honoured."""
    it = croniter(cron, after.astimezone(tz))
    out: list[datetime] = []
    while True:
        nxt = it.get_next(datetime)
        if nxt > until:
            return out
        out.append(nxt.astimezone(UTC))


def next_fire(cron: str, after: datetime, tz: ZoneInfo) -> datetime:
    return croniter(cron, after.astimezone(tz)).get_next(datetime).astimezone(UTC)


class Scheduler:
    """Decides which jobs are due and runs them; the clock and the runner are injectable."""

    def __init__(self, project: Project, *, clock: Clock = utc_now, runner: Runner | None = None,
                 state: StateStore | None = None) -> None:
        from cartflow.runtime.backends import open_state

        self.project = project
        self.cfg = project.config.schedule
        self.tz = ZoneInfo(self.cfg.timezone)
        self.clock = clock
        self.runner = runner or self._run
        self.state = state or open_state(project)

    def _run(self, trigger: str) -> Any:
        from cartflow.pipeline.run import run_pipeline

        return run_pipeline(self.project, trigger=trigger)

    def jobs(self) -> dict[str, ScheduleJob]:
        return {n: j for n, j in self.cfg.jobs.items() if j.enabled}

    def last_fire(self, job: str) -> datetime | None:
        value = self.state.watermark(WATERMARK_SOURCE, job)
        return datetime.fromisoformat(value) if value else None

    def _set_last(self, job: str, at: datetime) -> None:
        self.state.set_watermark(WATERMARK_SOURCE, job, at.astimezone(UTC).isoformat())

    def catchup(self, job: ScheduleJob) -> bool:
        return self.cfg.catchup if job.catchup is None else job.catchup

    def due(self, name: str, job: ScheduleJob, now: datetime) -> tuple[list[datetime], list[datetime]]:
        """(fire times to run, fire times skipped) for one job at `now`."""
        last = self.last_fire(name)
        if last is None:  # new job: start from now, do not run for the past
            self._set_last(name, now)
            log.info("schedule %s registered (%s); next run at %s", name, job.cron,
                     next_fire(job.cron, now, self.tz).isoformat(), extra={"job": name})
            return [], []
        times = fire_times(job.cron, last, now, self.tz)
        if not times:
            return [], []
        if not self.catchup(job):
            return times[-1:], times[:-1]
        limit = self.cfg.max_catchup_runs
        return times[-limit:], times[:-limit]

    def tick(self) -> list[Fired]:
        """Run every job that is due now; returns what was done."""
        now = self.clock()
        fired: list[Fired] = []
        for name, job in self.jobs().items():
            run, skipped = self.due(name, job, now)
            if skipped:
                log.warning("schedule %s: skipped %d missed run(s) from %s to %s (catchup is %s)", name,
                            len(skipped), skipped[0].isoformat(), skipped[-1].isoformat(),
                            "on, over max_catchup_runs" if self.catchup(job) else "off",
                            extra={"job": name, "skipped": len(skipped)})
            for i, at in enumerate(run):
                trigger = f"schedule:{name}@{at.isoformat()}"
                try:
                    result = self.runner(trigger)
                except LockHeld as exc:
                    log.warning("schedule %s: run for %s postponed, another run holds the lock: %s",
                                name, at.isoformat(), exc, extra={"job": name})
                    fired.append(Fired(name, at, "lock_held", skipped=skipped if i == 0 else []))
                    break  # retried on the next tick; later fire times wait behind it
                except Exception:  # noqa: BLE001 - the scheduler is a daemon: log it, the schedule goes on
                    log.exception("schedule %s: the run for %s could not start", name, at.isoformat(),
                                  extra={"job": name})
                    result = None
                self._set_last(name, at)
                fired.append(Fired(name, at, getattr(result, "status", "error"), getattr(result, "run_id", None),
                                   skipped=skipped if i == 0 else []))
        return fired

    def next_wakeup(self) -> datetime | None:
        now = self.clock()
        times = [next_fire(j.cron, max(now, self.last_fire(n) or now), self.tz) for n, j in self.jobs().items()]
        return min(times) if times else None

    def upcoming(self) -> list[tuple[str, str, datetime | None, datetime]]:
        """(job, cron, last fire, next fire) per enabled job, for `cartflow scheduler --list`."""
        now = self.clock()
        return [(n, j.cron, self.last_fire(n), next_fire(j.cron, now, self.tz)) for n, j in self.jobs().items()]

    def close(self) -> None:
        self.state.close()


def serve(project: Project, stop: threading.Event, *, once: bool = False, clock: Clock = utc_now,
          runner: Runner | None = None) -> list[Fired]:
    """The scheduler loop: one scheduler per project (its own lock), until `stop` is set.

    `once`: run what is due now and return (for a system cron or a CI job).
    """
    fired: list[Fired] = []
    lock = RunLock(project.work_dir / "scheduler.lock", "scheduler",
                   what="a scheduler already runs for this project", advice="Stop it first")
    with lock:
        scheduler = Scheduler(project, clock=clock, runner=runner)
        try:
            if not scheduler.jobs():
                log.warning("no enabled jobs under [schedule.jobs] in cartflow.toml: nothing to schedule")
            while not stop.is_set():
                fired += scheduler.tick()
                if once:
                    break
                wake = scheduler.next_wakeup()
                wait = MAX_SLEEP_SECONDS if wake is None else (wake - clock()).total_seconds()
                stop.wait(max(0.05, min(wait, MAX_SLEEP_SECONDS)))
        finally:
            scheduler.close()
    return fired
