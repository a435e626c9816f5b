"""The platform's sections of `cartflow.toml`: project, lake, warehouse, state, contract, currency,
stream, serving and API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field, field_validator

from cartflow.config.base import Strict, check_timezone
from cartflow.entities import DEFAULT_EARLIEST, DEFAULT_FUTURE_DAYS, DateWindow


class ProjectSection(Strict):
    name: str = "cartflow"
    timezone: str = "UTC"
    """The shop's time zone (IANA name). Timestamps without an offset are shop-local; silver
    converts ISO timestamps that carry an offset (`2024-03-05T14:12:01+01:00`) to this zone."""

    @field_validator("timezone")
    @classmethod
    def _valid_tz(cls, value: str) -> str:
        return check_timezone(value)


class LakeSection(Strict):
    root: str = "lake"
    """Local directory (relative to the project) or `s3://bucket/prefix`."""
    raw_retention: Literal["keep", "delete_after_standardize"] = "keep"
    """delete_after_standardize: a batch's raw object is deleted once it reconciled in silver
    (manifest status `transformed`); its manifest row stays, marked `raw_deleted_at`."""
    endpoint: str | None = None
    region: str = "us-east-1"
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"


class WarehouseSection(Strict):
    engine: Literal["duckdb", "spark"] = "duckdb"
    path: str | None = None
    """DuckDB file; defaults to `<lake>/warehouse.duckdb` for a local lake."""
    memory_limit: str = Field(default="2GB", pattern=r"^(?i:[0-9]+(\.[0-9]+)?\s*[KMGT]i?B)$")
    """DuckDB's memory limit for every warehouse query, e.g. "2GB" or "8GiB": beyond it, joins,
    sorts and aggregates spill to disk next to the warehouse instead of growing the process."""
    spark_master: str = "local[*]"
    """`local[*]` on one machine; `yarn`, `spark://host:7077` or `k8s://…` on a cluster."""
    spark_warehouse_dir: str | None = None
    """Where Spark keeps silver/gold tables; default `.cartflow/spark/warehouse` (s3:// on a cluster)."""
    spark_conf: dict[str, str] = Field(default_factory=dict)
    """Extra Spark settings: metastore (Glue/Hive), S3 filesystem, executor sizes; these win."""


class StateSection(Strict):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = ".cartflow/state.db"
    dsn_env: str = "CARTFLOW_STATE_DSN"
    """postgres: the env var holding the DSN (never the DSN itself: it has a password)."""
    schema_: str = Field(default="cartflow", alias="schema", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """postgres: the schema holding the state tables; several projects can share a database."""


class ContractSection(Strict):
    """The value contract's configurable bounds, applied at every door (API, files, stream, silver)."""

    earliest_date: date = DEFAULT_EARLIEST
    """Event times (invoice, transaction, rate dates) before this day are out of range."""
    future_days: float = Field(default=DEFAULT_FUTURE_DAYS, ge=0, le=3650)
    """...and so are those more than this many days after now (clock skew, time zones)."""

    def window(self, now: datetime | None = None) -> DateWindow:
        return DateWindow.from_config(self.earliest_date, self.future_days, now)


class CurrencySection(Strict):
    base: str = "GBP"
    max_rate_age_days: int = Field(default=7, ge=0)
    """Conversion takes the latest rate on or before the day (weekends, holidays); older than this is quarantined."""


class StreamSection(Strict):
    """The event log behind `POST /v1/order-lines`, and its consumers."""

    backend: Literal["sqlite", "kafka"] = "sqlite"
    path: str = ".cartflow/events.db"
    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "cartflow.order-lines"
    partitions: int = Field(default=4, ge=1)
    retention_hours: int = Field(default=168, ge=1)
    raw_flush_rows: int = Field(default=10_000, ge=1)
    """The raw sink writes a file after this many events, or after `raw_flush_seconds`."""
    raw_flush_seconds: float = Field(default=5.0, gt=0)
    source: str = "storefront"
    """The source name stream batches are landed under in raw (`raw/<source>/order_lines/`)."""
    currency: str = "GBP"
    """The currency of the storefront's prices."""
    invoice_date_format: str = "%-m/%-d/%Y %-H:%M"
    """How bronze writes InvoiceDate for streamed lines; must match what silver parses."""
    consumer_group_prefix: str = "cartflow"
    """Consumer groups are `<prefix>.raw-sink` and `<prefix>.serving-sink`."""


class ServingSection(Strict):
    """The serving store behind the purchase-history API (DynamoDB's role)."""

    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = ".cartflow/serving.db"
    dsn_env: str = "CARTFLOW_SERVING_DSN"
    pg_schema: str = "cartflow_serving"
    """PostgreSQL schema that holds the serving tables (created when missing)."""


class ApiSection(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_key_env: str = "CARTFLOW_API_KEY"
    read_key_env: str = "CARTFLOW_READ_KEY"
    """Env var with the keys (comma-separated) that purchase-history reads and the dashboard need; unset or
    empty: reads are open to anyone who reaches the port."""
    max_body_bytes: int = Field(default=5_000_000, ge=1)
    max_batch: int = Field(default=5_000, ge=1)
