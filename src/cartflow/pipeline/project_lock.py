"""The project's run lock, and what taking it implies: a run that died holding it is closed.

Everything that writes the warehouse or takes files from an inbox holds this lock: every
run (`cartflow run`, the scheduler, `watch`, a quarantine replay, each orchestrator task)
through `RunLifecycle`, and `dlq replay files` directly. Taking it is also the moment a
crash is found: when the lock file still names a holder, that process died holding it
(`kill -9`, OOM, power loss). Then, whoever finds it:

* records the crash once (`crashed_runs`, keyed by the dead holder's pid, host and
  lock time) and closes its run record as `failed`, so `cartflow runs` never shows an
  eternal `running`;
* claims the `run_crashed` alerts nobody has sent yet, and sends them after releasing
  the lock. A claim names the claiming process, so when the finder dies before sending
  (the chain: a run recovers a crash, then crashes too), the next lock holder sees a
  dead claimant and sends it instead: one alert per crashed run.

The one window left: a finder dying between the delivery and marking it sent gives
that alert twice (at least once, never lost).
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from types import TracebackType

from cartflow.config import Project
from cartflow.pipeline.alerts import notify_crashes
from cartflow.runtime.backends import open_state
from cartflow.runtime.lock import Holder, RunLock, process_alive
from cartflow.runtime.progress import QuietReporter, Reporter
from cartflow.runtime.state import CrashedRun, StateStore, utcnow

log = logging.getLogger(__name__)


def run_lock_path(project: Project) -> Path:
    return project.work_dir / "run.lock"


class ProjectLock:
    """`with ProjectLock(project, holder_id) as held:` the run lock, crash recovery, crash alerts once.

    `held.state` is the open state store; `held.crash` the crash found on taking the lock.
    """

    def __init__(self, project: Project, holder_id: str, reporter: Reporter | None = None) -> None:
        self.project = project
        self.holder_id = holder_id
        self.reporter = reporter or QuietReporter()
        self.lock = RunLock(run_lock_path(project), holder_id)
        self.claimant = f"{socket.gethostname()}/{os.getpid()}/{holder_id}"
        self.state: StateStore | None = None
        self.crash: CrashedRun | None = None
        self.owed: list[CrashedRun] = []
        """Crashes whose alert this holder sends after releasing the lock."""

    def __enter__(self) -> ProjectLock:
        self.lock.acquire()
        try:
            self.state = open_state(self.project)
            if self.lock.recovered is not None:
                self.crash = self._close_crashed(self.state, self.lock.recovered)
            self.owed = self._claim_alerts(self.state)
        except BaseException:
            self.close(send_alerts=False)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(send_alerts=not isinstance(exc, KeyboardInterrupt))

    def close(self, *, send_alerts: bool = True) -> None:
        """Release the lock, then send the owed crash alerts (an interrupted holder leaves them claimed
        by a process about to end: the next holder sends them)."""
        state, self.state = self.state, None
        try:
            self.lock.release()
            if state is not None and send_alerts and self.owed:
                for crash in notify_crashes(self.project, self.owed):
                    state.crash_alerted(crash.lock_id)
        finally:
            if state is not None:
                state.close()

    def _close_crashed(self, state: StateStore, holder: Holder) -> CrashedRun:
        """A process died holding the lock: record it once, and close its run as `failed`, honestly."""
        message = (f"process {holder.pid} on {holder.host} died while running (lock taken {holder.started_at}); "
                   f"its stale lock was recovered by run {self.holder_id}")
        self.reporter.message(f"recovered a stale lock left by pid {holder.pid} (run {holder.run_id})")
        log.warning("recovered a stale lock: %s", message, extra={"crashed_run": holder.run_id})
        crash = CrashedRun(lock_id=f"{holder.host}/{holder.pid}/{holder.started_at}", run_id=holder.run_id,
                           pid=holder.pid, host=holder.host, started_at=holder.started_at,
                           recovered_by=self.holder_id, recovered_at=utcnow(), message=message)
        state.record_crash(crash)
        previous = state.run(holder.run_id) if holder.run_id else None
        if previous and previous["run_id"] == holder.run_id and previous["status"] == "running":
            state.finish_run(previous["run_id"], "failed", message, {})
        return crash

    def _claim_alerts(self, state: StateStore) -> list[CrashedRun]:
        """The unsent crash alerts nobody alive is sending: this holder sends them."""
        owed = []
        for crash in state.unalerted_crashes():
            if crash.alert_claim is not None and claimant_alive(crash.alert_claim):
                continue
            if state.claim_crash_alert(crash.lock_id, crash.alert_claim, self.claimant):
                owed.append(crash)
        return owed


def claimant_alive(claimant: str) -> bool:
    """Whether the `host/pid/holder` that claimed an alert still runs."""
    host, _, rest = claimant.partition("/")
    pid = rest.partition("/")[0]
    return pid.isdigit() and process_alive(int(pid), host)
