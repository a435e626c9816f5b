"""The event log at scale: a Kafka-protocol topic through confluent-kafka.

The producer is idempotent with acks=all, and `append` waits for every delivery report,
so an acknowledged POST is on all in-sync replicas. Consumers use the broker's consumer
groups with auto-commit off: the sinks commit after their own write is durable.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from cartflow.stream.log import AssignmentCallback, Event, LogUnavailable, OutgoingEvent

APPEND_TIMEOUT = 15.0
_CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
    "max.poll.interval.ms": 300000,
}


class KafkaLog:
    backend = "kafka"

    def __init__(self, bootstrap_servers: str, topic: str, partitions: int = 4, retention_hours: int = 168) -> None:
        self.bootstrap_servers, self.topic = bootstrap_servers, topic
        self._base: dict[str, str | int | float | bool] = {"bootstrap.servers": bootstrap_servers, "client.id": "cartflow"}
        self.partitions = self._ensure_topic(partitions, retention_hours)
        self._producer = Producer({
            **self._base,
            "enable.idempotence": True,  # retries never duplicate or reorder within a partition
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "partitioner": "murmur2_random",  # the Java client's partitioner: same key, same partition
            "message.timeout.ms": int(APPEND_TIMEOUT * 1000),
        })
        self._lock = threading.Lock()
        self._lag_readers: dict[str, Consumer] = {}

    def describe(self) -> str:
        return f"kafka:{self.bootstrap_servers}/{self.topic}"

    def _ensure_topic(self, partitions: int, retention_hours: int) -> int:
        admin = AdminClient(self._base)
        try:
            meta = admin.list_topics(timeout=10)
            if self.topic not in meta.topics:
                futures = admin.create_topics([NewTopic(
                    self.topic, num_partitions=partitions, replication_factor=-1,
                    config={"retention.ms": str(retention_hours * 3_600_000)})])
                try:
                    futures[self.topic].result(15)
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                        raise
                meta = admin.list_topics(topic=self.topic, timeout=10)
            return len(meta.topics[self.topic].partitions) or partitions
        except KafkaException as exc:
            raise LogUnavailable(
                f"cannot reach Kafka at {self.bootstrap_servers} ({exc}): start the broker, "
                "or fix [stream] bootstrap_servers in cartflow.toml") from exc

    def append(self, events: Sequence[OutgoingEvent]) -> None:
        errors: list[str] = []

        def delivered(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        for e in events:
            while True:
                try:
                    self._producer.produce(self.topic, key=e.key, value=e.value,
                                           headers=[("event_id", e.event_id.encode())], on_delivery=delivered)
                    break
                except BufferError:  # local queue full: let deliveries drain, then retry
                    self._producer.poll(0.05)
        with self._lock:  # flush waits for every outstanding message, ours included
            left = self._producer.flush(APPEND_TIMEOUT)
        if left or errors:
            raise LogUnavailable(f"Kafka at {self.bootstrap_servers} did not acknowledge "
                                 f"{left or len(errors)} event(s): {errors[:1] or 'timeout'}")

    def consumer(self, group: str) -> KafkaConsumer:
        return KafkaConsumer(self, group)

    def read_range(self, partition: int, start: int, end: int) -> list[Event]:
        reader = Consumer({**self._base, **_CONSUMER_DEFAULTS, "group.id": f"cartflow-replay-{uuid.uuid4().hex[:8]}"})
        out: list[Event] = []
        try:
            reader.assign([TopicPartition(self.topic, partition, start)])
            deadline = time.monotonic() + APPEND_TIMEOUT
            empty_deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and (not out or out[-1].offset < end):
                for m in reader.consume(500, 0.5):
                    if m.error() is None and start <= m.offset() <= end:  # type: ignore[operator]  # no error: it has an offset
                        out.append(_event(m))
                if not out and time.monotonic() > empty_deadline:
                    break  # nothing left in that range (retention removed it)
        finally:
            reader.close()
        return out

    def group_lag(self, group: str, partitions: list[int]) -> dict[int, int]:
        """Committed offsets of `group` and fresh high watermarks, through a reader that never joins the group."""
        reader = self._lag_readers.get(group)
        if reader is None:
            reader = self._lag_readers[group] = Consumer({**self._base, **_CONSUMER_DEFAULTS, "group.id": group})
        tps = [TopicPartition(self.topic, p) for p in partitions]
        committed = {tp.partition: tp.offset for tp in reader.committed(tps, timeout=5) if tp.offset >= 0}
        lag = {}
        for tp in tps:
            _, high = reader.get_watermark_offsets(tp, timeout=5, cached=False)
            lag[tp.partition] = max(0, high - committed.get(tp.partition, 0))
        return lag

    def ping(self) -> None:
        try:
            AdminClient(self._base).list_topics(topic=self.topic, timeout=5)
        except KafkaException as exc:
            raise LogUnavailable(f"Kafka at {self.bootstrap_servers}: {exc}") from exc

    def close(self) -> None:
        self._producer.flush(5)
        for reader in self._lag_readers.values():
            reader.close()
        self._lag_readers.clear()


class KafkaConsumer:
    """A member of a broker-side consumer group; partitions move between members on rebalance."""

    def __init__(self, log: KafkaLog, group: str) -> None:
        self.log, self.group = log, group
        self._consumer = Consumer({**log._base, **_CONSUMER_DEFAULTS, "group.id": group})
        self._assigned: list[int] = []
        self._assigned_cb: AssignmentCallback = lambda ps: None
        self._revoked_cb: AssignmentCallback = lambda ps: None
        self._consumer.subscribe([log.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.skipped = 0

    def on_assignment(self, assigned: AssignmentCallback, revoked: AssignmentCallback) -> None:
        self._assigned_cb, self._revoked_cb = assigned, revoked

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self._assigned = sorted(tp.partition for tp in partitions)
        self._assigned_cb(list(self._assigned))

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        gone = [tp.partition for tp in partitions]
        self._revoked_cb(gone)  # the sink may still flush and commit these partitions here
        self._assigned = [p for p in self._assigned if p not in gone]

    def assignment(self) -> list[int]:
        return list(self._assigned)

    def poll(self, max_records: int, timeout: float) -> list[Event]:
        out = []
        for m in self._consumer.consume(max_records, timeout):
            err = m.error()
            if err is None:
                out.append(_event(m))
            elif err.code() != KafkaError._PARTITION_EOF and err.fatal():
                raise LogUnavailable(f"Kafka consumer {self.group}: {err}")
        return out

    def commit(self, offsets: dict[int, int]) -> None:
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=[TopicPartition(self.log.topic, p, o) for p, o in offsets.items()],
                                  asynchronous=False)
        except KafkaException as exc:
            raise LogUnavailable(f"Kafka consumer {self.group}: commit failed: {exc}") from exc

    def committed(self) -> dict[int, int]:
        tps = [TopicPartition(self.log.topic, p) for p in self._assigned]
        if not tps:
            return {}
        return {tp.partition: tp.offset for tp in self._consumer.committed(tps, timeout=10) if tp.offset >= 0}

    def lag(self) -> dict[int, int]:
        committed = self.committed() if self._assigned else {}
        lag = {}
        for p in self._assigned:
            # cached: the high watermark the last fetch response carried (no extra round trip)
            _, high = self._consumer.get_watermark_offsets(TopicPartition(self.log.topic, p), cached=True)
            if high >= 0:
                lag[p] = max(0, high - committed.get(p, 0))
        return lag

    def close(self) -> None:
        self._consumer.close()  # leaves the group: the broker reassigns our partitions now


def _event(m: Any) -> Event:
    headers = dict(m.headers() or [])
    # a producer other than the API may send any bytes: never let a header stop the consumer
    event_id = headers.get("event_id", b"").decode("utf-8", "backslashreplace") if headers.get("event_id") else ""
    return Event(partition=m.partition(), offset=m.offset(), key=m.key() or b"", value=m.value() or b"",
                 event_id=event_id, timestamp=m.timestamp()[1] / 1000.0)

