"""Streaming ingest: the event log (SQLite, Kafka), record validation, and the raw and serving sinks."""
