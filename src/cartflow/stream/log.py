"""The event log behind `POST /v1/order-lines`: one interface, two backends.

`append` returns only once the events are durable (SQLite: committed with
`synchronous=FULL`; Kafka: acknowledged by all in-sync replicas), so the API can answer
202 afterwards. Consumers belong to a group, read partitions in offset order and commit
"the next offset to read" explicitly, after their own write is durable.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from cartflow.config import Project

AssignmentCallback = Callable[[list[int]], None]


class LogUnavailable(Exception):
    """The log did not confirm the write; nothing was acknowledged, the client should retry."""


@dataclass(frozen=True)
class Event:
    partition: int
    offset: int
    key: bytes
    value: bytes
    event_id: str
    timestamp: float
    """Seconds since the epoch when the log accepted the event."""


@dataclass(frozen=True)
class OutgoingEvent:
    key: bytes
    value: bytes
    event_id: str


class LogConsumer(Protocol):
    group: str

    def on_assignment(self, assigned: AssignmentCallback, revoked: AssignmentCallback) -> None:
        """Register callbacks run (in the polling thread) when partitions come and go."""

    def poll(self, max_records: int, timeout: float) -> list[Event]:
        """Up to `max_records` events after the current position; [] after `timeout` seconds."""

    def commit(self, offsets: dict[int, int]) -> None:
        """Durably record, per partition, the next offset this group will read."""

    def committed(self) -> dict[int, int]: ...

    def lag(self) -> dict[int, int]:
        """Events not yet committed, per assigned partition."""

    def assignment(self) -> list[int]: ...

    def close(self) -> None: ...


class EventLog(Protocol):
    backend: str
    partitions: int

    def append(self, events: Sequence[OutgoingEvent]) -> None:
        """Write the events; return only when they are durable, else raise LogUnavailable."""

    def consumer(self, group: str) -> LogConsumer: ...

    def read_range(self, partition: int, start: int, end: int) -> list[Event]:
        """Events with start <= offset <= end (for an exact replay of an earlier flush)."""

    def group_lag(self, group: str, partitions: list[int]) -> dict[int, int]:
        """Per partition, events a group has not committed yet, read from the log (no member needed)."""

    def ping(self) -> None:
        """Raise LogUnavailable when the log cannot be reached."""

    def describe(self) -> str: ...

    def close(self) -> None: ...


def partition_for(key: bytes, partitions: int) -> int:
    """Stable partition of a key: all lines of one invoice land in one partition, in order."""
    return zlib.crc32(key) % partitions


def open_log(project: Project) -> EventLog:
    """The backend selected by `[stream] backend`."""
    cfg = project.config.stream
    if cfg.backend == "kafka":
        from cartflow.stream.kafka_log import KafkaLog

        return KafkaLog(cfg.bootstrap_servers, cfg.topic, partitions=cfg.partitions,
                        retention_hours=cfg.retention_hours)
    from cartflow.stream.sqlite_log import SqliteLog

    return SqliteLog(project.resolve(cfg.path), partitions=cfg.partitions, retention_hours=cfg.retention_hours)


def group_name(project: Project, sink: str) -> str:
    return f"{project.config.stream.consumer_group_prefix}.{sink}"
