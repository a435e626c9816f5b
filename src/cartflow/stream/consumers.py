"""The loop every sink runs in: poll, write, commit; on any failure, start over from the commit.

A sink writes idempotently and commits only after its write is durable, so the simple
recovery is always correct: drop what is in memory, reopen the consumer, and read
again from the last committed offset. Failures back off exponentially (up to 30 s) and
are counted in `cartflow_consumer_errors_total`. What a sink cannot write because of
the event itself it dead-letters (see the sinks): only the store or the log being
unusable makes the loop retry.

Lag (`cartflow_consumer_lag_events`) is measured by `LagReporter`, a thread of its own
that reads the group's committed offsets and the log's heads from the log, not from the
consumer loop: a sink that is failing, backing off or blocked in a write shows its
lag growing instead of the last value it reported.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from cartflow.stream.log import Event, EventLog, LogConsumer
from cartflow.stream.metrics import CONSUMED, CONSUMER_ERRORS, CONSUMER_LAG

log = logging.getLogger("cartflow.stream")
LAG_EVERY = 1.0
MAX_BACKOFF = 30.0


class Sink(Protocol):
    name: str
    max_records: int
    poll_timeout: float

    def assigned(self, consumer: LogConsumer, partitions: list[int]) -> None: ...

    def revoked(self, consumer: LogConsumer, partitions: list[int]) -> None: ...

    def handle(self, consumer: LogConsumer, events: list[Event]) -> None:
        """Write (or buffer) the events; commit what is durable."""

    def tick(self, consumer: LogConsumer) -> None:
        """Called after every poll: time-based work such as a Firehose-style flush."""

    def reset(self) -> None:
        """Forget buffered events after a failure; they will be read again."""

    def close(self, consumer: LogConsumer) -> None:
        """Graceful stop: write and commit what is buffered."""


@dataclass
class RunnerStatus:
    name: str
    group: str
    running: bool = False
    partitions: list[int] = field(default_factory=list)
    lag: int | None = None
    processed: int = 0
    errors: int = 0
    last_error: str | None = None
    last_error_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """For `/v1/health`: the last error's kind only; its message (paths, hosts) stays in the server's log."""
        kind = self.last_error.partition(":")[0] if self.last_error else None
        return {"group": self.group, "running": self.running, "partitions": self.partitions,
                "standby": self.running and not self.partitions, "lag": self.lag, "processed": self.processed,
                "errors": self.errors, "last_error": kind}


class ConsumerRunner(threading.Thread):
    """One sink in its own thread, restarted from its committed offsets after any failure."""

    def __init__(self, log_: EventLog, group: str, sink: Sink, stop: threading.Event) -> None:
        super().__init__(name=f"cartflow-{sink.name}", daemon=True)
        self.log, self.group, self.sink, self.stop = log_, group, sink, stop
        self.status = RunnerStatus(name=sink.name, group=group)

    def run(self) -> None:
        backoff = 0.5
        self.status.running = True
        while not self.stop.is_set():
            consumer: LogConsumer | None = None
            try:
                consumer = self.log.consumer(self.group)
                self._wire(consumer)
                self._loop(consumer)
                self.sink.close(consumer)
                backoff = 0.5
            except Exception as exc:  # any failure: replay from the last commit
                self.status.errors += 1
                self.status.last_error, self.status.last_error_at = f"{type(exc).__name__}: {exc}", time.time()
                CONSUMER_ERRORS.labels(self.sink.name).inc()
                log.warning("%s failed, retrying in %.1fs from the committed offsets: %s",
                            self.sink.name, backoff, exc, exc_info=log.isEnabledFor(logging.DEBUG))
                self.sink.reset()
                self.stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            finally:
                if consumer is not None:
                    try:
                        consumer.close()
                    except Exception as exc:  # closing a broken consumer must not kill the runner
                        log.debug("%s: close failed: %s", self.sink.name, exc)
        self.status.running = False

    def _wire(self, consumer: LogConsumer) -> None:
        consumer.on_assignment(lambda ps: self.sink.assigned(consumer, ps),
                               lambda ps: self.sink.revoked(consumer, ps))

    def _loop(self, consumer: LogConsumer) -> None:
        while not self.stop.is_set():
            events = consumer.poll(self.sink.max_records, self.sink.poll_timeout)
            # after the poll: the partitions this member owns, kept through a failure for the lag reporter
            self.status.partitions = consumer.assignment()
            if events:
                self.sink.handle(consumer, events)
                self.status.processed += len(events)
                CONSUMED.labels(self.sink.name).inc(len(events))
            self.sink.tick(consumer)


class LagReporter(threading.Thread):
    """Every `LAG_EVERY` seconds, each runner's lag from the log itself (heads minus committed offsets).

    It reports the partitions a runner owns or owned when it last polled, so a standby
    member reports nothing while a failing or blocked one keeps reporting its growing lag.
    """

    def __init__(self, log_: EventLog, runners: list[ConsumerRunner], stop: threading.Event,
                 every: float = LAG_EVERY) -> None:
        super().__init__(name="cartflow-lag", daemon=True)
        self.log, self.runners, self.stop, self.every = log_, runners, stop, every

    def run(self) -> None:
        while not self.stop.is_set():
            self.report()
            self.stop.wait(self.every)

    def report(self) -> None:
        for r in self.runners:
            partitions = list(r.status.partitions)
            if not partitions:
                r.status.lag = None
                continue
            try:
                lag = self.log.group_lag(r.group, partitions)
            except Exception as exc:  # noqa: BLE001 — an unreachable log leaves the lag unknown, not the thread dead
                log.debug("lag of %s unknown: %s", r.sink.name, exc)
                r.status.lag = None
                continue
            for p, n in lag.items():
                CONSUMER_LAG.labels(r.sink.name, str(p)).set(n)
            r.status.lag = sum(lag.values())


def commit_offsets(events: list[Event]) -> dict[int, int]:
    """Per partition, the offset after the last event: what a consumer commits."""
    out: dict[int, int] = {}
    for e in events:
        out[e.partition] = max(out.get(e.partition, 0), e.offset + 1)
    return out
