"""Streaming ingest: the event log (SQLite, Kafka), record validation, and the raw and serving sinks.

* `log`: the `EventLog` protocol and `open_log(project)` (`sqlite_log`, `kafka_log`);
* `body`: request bodies as records; `records`, `patterns`: validating them against the contract;
* `consumers`: each sink in its own thread, restarted from its committed offsets; `service` starts them;
* `raw_sink`: events to raw batches; `serving_sink`: events to the serving store;
* `deadletter`: what no sink could take, with the reason; `send`: `cartflow send`;
  `metrics`: Prometheus metrics (rate, lag, errors, latency).

Import modules explicitly (``from cartflow.stream.log import open_log``): Kafka's client is loaded
only for a Kafka log.
"""

__all__ = ["body", "consumers", "deadletter", "kafka_log", "log", "metrics", "patterns", "raw_sink", "records",
           "send", "service", "serving_sink", "sqlite_log"]
