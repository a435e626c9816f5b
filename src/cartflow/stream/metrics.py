"""Prometheus metrics of the stream: ingest rate, consumer lag, errors, visibility latency.

One registry per process (`prometheus_client`'s default); `GET /metrics` exposes it.
Rates are derived by Prometheus from the counters (`rate(cartflow_ingest_events_total[1m])`).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # the *_created series only double the scrape size

INGEST_REQUESTS = Counter("cartflow_ingest_requests", "POST /v1/order-lines requests by HTTP status", ["status"])
INGEST_EVENTS = Counter("cartflow_ingest_events", "Order-line records received, by outcome", ["outcome"])
INGEST_SECONDS = Histogram("cartflow_ingest_request_seconds", "Time to validate and durably append one request",
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
DEAD_LETTERS = Counter("cartflow_dead_letter_records", "Records sent to the dead-letter log, by reason", ["reason"])
LOG_ERRORS = Counter("cartflow_log_errors", "Event log writes that failed (the client got 503)")

CONSUMED = Counter("cartflow_consumer_events", "Events processed by a consumer", ["consumer"])
CONSUMER_ERRORS = Counter("cartflow_consumer_errors", "Consumer failures (it retries from its committed offset)",
                          ["consumer"])
CONSUMER_LAG = Gauge("cartflow_consumer_lag_events", "Events in the log not yet committed by a consumer",
                     ["consumer", "partition"])
RAW_FILES = Counter("cartflow_raw_files", "Raw NDJSON files landed by the raw sink")
VISIBLE_SECONDS = Histogram("cartflow_serving_visible_seconds",
                            "From the log accepting an event to it being readable in the serving store",
                            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
