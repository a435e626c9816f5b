"""Wiring: open the log, the store and the dead letter, and run the two sinks.

`cartflow serve` starts the sinks in its own process (unless `--no-consumers`);
`cartflow consume` runs them alone until SIGINT/SIGTERM, then flushes and commits.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from cartflow.config import Project
from cartflow.lake.storage import open_lake
from cartflow.runtime.backends import open_state
from cartflow.serving.store import ServingStore, open_store
from cartflow.stream.consumers import ConsumerRunner, LagReporter
from cartflow.stream.deadletter import DeadLetterLog, open_dead_letters
from cartflow.stream.log import EventLog, group_name, open_log
from cartflow.stream.raw_sink import RawSink
from cartflow.stream.serving_sink import ServingSink

SINKS = ("raw", "serving")
STOP_TIMEOUT = 30.0



@dataclass
class StreamServices:
    """Everything the API and the sinks share in one process."""

    project: Project
    log: EventLog
    store: ServingStore
    dead_letters: DeadLetterLog
    runners: list[ConsumerRunner] = field(default_factory=list)
    lag_reporter: LagReporter | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    _closers: list[Callable[[], None]] = field(default_factory=list)
    _closed: bool = False

    def start_sinks(self, which: tuple[str, ...] = SINKS) -> None:
        cfg = self.project.config.stream
        if "raw" in which:
            state = open_state(self.project)
            raw = RawSink(self.log, open_lake(self.project), state,
                          self.project.state_path.parent / "raw-sink.db", source=cfg.source, topic=cfg.topic,
                          flush_rows=cfg.raw_flush_rows, flush_seconds=cfg.raw_flush_seconds,
                          dedupe_seconds=cfg.retention_hours * 3600, dead_letters=self.dead_letters)
            self._closers += [raw.close_db, state.close]
            self.runners.append(ConsumerRunner(self.log, group_name(self.project, "raw-sink"), raw, self.stop))
        if "serving" in which:
            sink = ServingSink(self.store, self.dead_letters, currency=cfg.currency, source=cfg.source,
                               date_format=cfg.invoice_date_format)
            self.runners.append(ConsumerRunner(self.log, group_name(self.project, "serving-sink"), sink, self.stop))
        for r in self.runners:
            r.start()
        if self.runners and self.lag_reporter is None:
            self.lag_reporter = LagReporter(self.log, self.runners, self.stop)
            self.lag_reporter.start()

    def shutdown(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the sinks (each flushes and commits), then close every connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        self.stop.set()
        deadline = time.monotonic() + timeout
        threads = [*self.runners, *([self.lag_reporter] if self.lag_reporter else [])]
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in threads):
            return  # a sink is stuck in I/O: leave its connections to the process exit
        for close in [*self._closers, self.store.close, self.dead_letters.close, self.log.close]:
            try:
                close()
            except Exception:  # closing must never mask the reason we are stopping
                pass


def open_services(project: Project) -> StreamServices:
    log = open_log(project)
    try:
        store = open_store(project)
    except Exception:
        log.close()
        raise
    return StreamServices(project=project, log=log, store=store, dead_letters=open_dead_letters(project))


def run_consumers(project: Project, which: tuple[str, ...] = SINKS,
                  report: Callable[[str], None] = print, status_every: float = 10.0) -> None:
    """`cartflow consume`: the sinks alone, in the foreground, until SIGINT or SIGTERM."""
    services = open_services(project)
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        services.start_sinks(which)
        report(f"consuming {services.log.describe()} with {', '.join(r.sink.name for r in services.runners)}; "
               "Ctrl-C flushes, commits and stops")
        while not stopping.wait(status_every):
            report("; ".join(_status_line(r) for r in services.runners))
    finally:
        services.shutdown()
        for s, handler in previous.items():
            signal.signal(s, handler)
    report("stopped: buffered events were flushed and their offsets committed")


def _status_line(r: ConsumerRunner) -> str:
    s = r.status
    state = "standby (another process holds the group)" if s.running and not s.partitions else \
        f"partitions {s.partitions}"
    err = f", last error: {s.last_error}" if s.last_error else ""
    return f"{s.name}: {s.processed:,} events, lag {s.lag if s.lag is not None else '?'}, {state}{err}"
