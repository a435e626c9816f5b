"""The `cartflow.toml` schema: every backend and source a project uses, validated up front.

Validation errors name the key, the value and what is allowed, so a typo in a config
file is a one-line fix rather than a stack trace.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cartflow.entities import DEFAULT_EARLIEST, DEFAULT_FUTURE_DAYS, ENTITIES, ENTITY_NAMES, DateWindow

CONFIG_FILE = "cartflow.toml"
ENV_PREFIX = "CARTFLOW__"


class ConfigError(Exception):
    """cartflow.toml is missing or invalid; the message says where and how to fix it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone (use an IANA name such as UTC or Europe/London)") from None
    return value


class ProjectSection(_Strict):
    name: str = "cartflow"
    timezone: str = "UTC"
    """The shop's time zone (IANA name). Timestamps without an offset are shop-local; silver
    converts ISO timestamps that carry an offset (`2024-03-05T14:12:01+01:00`) to this zone."""

    @field_validator("timezone")
    @classmethod
    def _valid_tz(cls, value: str) -> str:
        return _check_timezone(value)


class LakeSection(_Strict):
    root: str = "lake"
    """Local directory (relative to the project) or `s3://bucket/prefix`."""
    raw_retention: Literal["keep", "delete_after_standardize"] = "keep"
    """delete_after_standardize: a batch's raw object is deleted once it reconciled in silver
    (manifest status `transformed`); its manifest row stays, marked `raw_deleted_at`."""
    endpoint: str | None = None
    region: str = "us-east-1"
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"


class WarehouseSection(_Strict):
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


class StateSection(_Strict):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = ".cartflow/state.db"
    dsn_env: str = "CARTFLOW_STATE_DSN"
    """postgres: the env var holding the DSN (never the DSN itself: it has a password)."""
    schema_: str = Field(default="cartflow", alias="schema", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """postgres: the schema holding the state tables; several projects can share a database."""


class CsvOptions(_Strict):
    encoding: str = "latin-1"
    delimiter: str = ","
    quote: str = '"'
    date_format: str = "%-m/%-d/%Y %-H:%M"
    """How this source writes its timestamps (strptime, DuckDB spelling: `%-m` = unpadded month).
    Reaches silver per source through `_pipeline/sources.parquet` (docs/columns.md)."""
    decimal: Literal[".", ","] = "."


Entity = Literal[ENTITY_NAMES]  # type: ignore[valid-type]
"""What a source delivers: one of the entity contracts in `cartflow.entities`."""

_CURRENCY = r"^[A-Z]{3}$"
_IDENT = r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$"


class DateRules(_Strict):
    """How day/month dates such as `03/04/2022` are read: written down here, never guessed."""

    ambiguous: Literal["quarantine", "month_first", "day_first"] = "quarantine"
    """A date whose day and month could be swapped (both <= 12, different): quarantine it, or read it so."""
    slash: Literal["infer", "month_first", "day_first"] = "infer"
    """`a/b/YYYY`: infer (a > 12 means day first, b > 12 month first, else ambiguous) or a fixed order."""
    dash: Literal["infer", "month_first", "day_first"] = "infer"
    """`a-b-YYYY`, as `slash`. The multi-source seed documents its dashed dates as MM-DD-YYYY."""
    dot: Literal["infer", "month_first", "day_first"] = "infer"
    """`a.b.YYYY`, as `slash`."""


class _EntitySource(_Strict):
    """What every source kind shares: the entity it delivers and how its values are read."""

    currency: str | None = Field(default=None, pattern=_CURRENCY)
    """Currency of amounts in rows that carry none (default: `[currency] base`)."""
    rate_base: str = Field(default="EUR", pattern=_CURRENCY)
    """exchange_rates rows without a base currency of their own are quoted against this one."""
    dates: DateRules = Field(default_factory=DateRules)
    enabled: bool = True
    required: bool = True
    """A failing required source fails the run; an optional one makes it `partial`."""
    columns: dict[str, str] = Field(default_factory=dict)
    """`[sources.<name>.columns]`: canonical column = the source's column (a dotted path such as
    `customer.id` inside JSON records). Columns not named here fall back to the accepted spellings."""
    fill_down: list[str] = Field(default_factory=list)
    """Canonical columns that are blank on an order's continuation rows (a Shopify export writes
    order-level fields on the first line item only): a blank takes the value of the row above
    when that row has the same `fill_down_by` value."""
    fill_down_by: str | None = None
    """The canonical column that groups continuation rows (default: the entity's first key column)."""

    @model_validator(mode="after")
    def _columns_of_the_entity(self) -> "_EntitySource":
        contract = ENTITIES[getattr(self, "entity", "order_lines")]
        known = contract.bronze_columns
        for key, value in self.columns.items():
            if key not in known:
                raise ValueError(f"columns.{key}: {_not_a_column(key, contract.name, known)}")
            if not value.strip():
                raise ValueError(f"columns.{key}: empty source column name (remove the line to use the accepted "
                                 "spellings)")
        for key in (*self.fill_down, *([self.fill_down_by] if self.fill_down_by else [])):
            if key not in known:
                raise ValueError(f"fill_down: {_not_a_column(key, contract.name, known)}")
        if self.fill_down and self.fill_down_key() in self.fill_down:
            raise ValueError(f"fill_down: {self.fill_down_key()!r} groups the rows (fill_down_by); it cannot be "
                             "filled itself")
        return self

    def fill_down_key(self) -> str:
        """The column whose equal values mark continuation rows."""
        return self.fill_down_by or ENTITIES[getattr(self, "entity", "order_lines")].key[0]


def _not_a_column(name: str, entity: str, known: tuple[str, ...]) -> str:
    """`'qty' is not a column of order_lines: did you mean 'quantity'? (columns: ...)`"""
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{name!r} is not a column of entity {entity}: {hint}(its columns: {', '.join(known)})"


class FilesSource(_EntitySource):
    kind: Literal["files"]
    entity: Entity = "order_lines"
    path: str
    """Directory, or glob (`landing/retail/*.csv`), relative to the project."""
    format: Literal["csv", "json", "ndjson"] = "csv"
    """csv; json: one array of objects per file (or `records_path` inside one object); ndjson: one object per line."""
    records_path: str | None = None
    """json: dotted path to the list of records inside the document (`data.items`); none: the document is the list."""
    csv: CsvOptions = Field(default_factory=CsvOptions)
    currency: str | None = Field(default="GBP", pattern=_CURRENCY)
    inbox: bool = True
    """Also take files dropped in `<lake>/landing/<source>/` (moved to processed/ or rejected/ after)."""
    settle_seconds: float = Field(default=5.0, ge=0)
    """Take a file only once its size and modification time stayed the same this long (a copy in
    progress is left for the next run). 0: every file is complete when it appears (a batch job
    that writes elsewhere and renames, or tests)."""
    ready_marker: str | None = Field(default=None, pattern=r"^[^/\\*?\[]+$")
    """For producers that signal completion: `".done"` takes `x.csv` once `x.csv.done` exists;
    a name such as `"_SUCCESS"` takes the files of a folder once it holds that file. With a
    marker the quiet period is not waited for. Files ending .tmp/.part/.partial/.filepart/
    .crdownload/.uploading are always left alone until renamed."""
    follow_symlinks: bool = False
    """A symbolic link in `path` is rejected (`symlink`) unless this is true: a link can point
    anywhere on the machine, and its target can change under the same name."""
    recursive: bool = False
    """A directory `path` takes its direct files only; sub-folders are skipped with a note.
    true: files in sub-folders too, named by their path below `path` (`2024/01/day.csv`)."""


class HttpAuth(_Strict):
    type: Literal["none", "bearer", "api_key"] = "none"
    token_env: str | None = None
    """The env var holding the token or key (never the secret itself: config files get committed)."""
    header: str = "X-API-Key"
    """api_key: the header that carries the key."""

    @model_validator(mode="after")
    def _secret_named(self) -> "HttpAuth":
        if self.type != "none" and not self.token_env:
            raise ValueError(f"auth type {self.type!r} needs token_env (the env var holding the secret)")
        return self


class HttpPagination(_Strict):
    style: Literal["none", "page", "offset", "cursor", "link"] = "none"
    """page: ?page=N&limit=K; offset: ?offset=N&limit=K (both end at an empty page); cursor: ?cursor=<from the
    last page>; link: follow `Link: rel="next"`."""
    page_param: str = "page"
    first_page: int = Field(default=1, ge=0)
    size_param: str = "limit"
    page_size: int = Field(default=100, ge=1, le=100_000)
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    cursor_path: str = "next_cursor"
    """cursor: dotted path to the next cursor in each page's body; empty or missing ends the pages."""
    max_pages: int = Field(default=100_000, ge=1)
    """A safety stop: an API that never ends its pages fails the extract instead of looping."""


class HttpIncremental(_Strict):
    param: str = "updated_since"
    """The query parameter that receives the last watermark."""
    field: str | None = None
    """Record field whose largest value becomes the next watermark; none: the time the extract started."""
    initial: str | None = None
    """Watermark for the first extract (none: the parameter is left out, a full load)."""
    lookback_seconds: float = Field(default=0, ge=0)
    """Ask again for this much before the watermark (ISO timestamps only), for late or clock-skewed updates."""


class HttpSource(_EntitySource):
    kind: Literal["http"]
    entity: Entity
    url: str = Field(pattern=r"^https?://")
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers; secrets go in `auth` (token_env), which is never logged."""
    auth: HttpAuth = Field(default_factory=HttpAuth)
    pagination: HttpPagination = Field(default_factory=HttpPagination)
    records_path: str | None = None
    """Dotted path to the records in each page (`data`); none: the page itself is the list."""
    layout: Literal["records", "frankfurter"] = "records"
    """frankfurter: `{base, rates: {date: {currency: rate}}}` pages (exchange rates) become one row per rate."""
    incremental: HttpIncremental | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    request_attempts: int = Field(default=5, ge=1, le=20)
    """Tries per request on connection errors, timeouts, 5xx and 429 (the first included)."""
    backoff_seconds: float = Field(default=0.5, ge=0)
    max_backoff_seconds: float = Field(default=30.0, ge=0)
    max_retry_after_seconds: float = Field(default=120.0, ge=0)
    """A 429/503 asking to wait longer than this fails the request instead of stalling the run."""


class PostgresIncremental(_Strict):
    column: str = Field(pattern=_IDENT)
    """Watermark column (a timestamp, date or number that grows when a row changes)."""
    lookback: str | float = 0
    """Re-read this far behind the watermark for late commits: an interval (`"10 minutes"`) or a number."""
    initial: str | None = None
    """Extract only rows after this value on the first run (none: everything)."""


class PostgresSource(_EntitySource):
    kind: Literal["postgres"]
    entity: Entity
    dsn_env: str = "CARTFLOW_SOURCE_DSN"
    """The env var holding the connection string (it carries a password, so never the config)."""
    dsn: str | None = None
    """A connection string without a password (a local or sandbox database); wins over dsn_env."""
    table: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
    query: str | None = None
    """A SELECT instead of a table; incremental filters wrap it (`SELECT * FROM (<query>) q WHERE ...`)."""
    key: list[str] = Field(default_factory=list)
    """Primary-key columns: a stable row order, so an unchanged extract is the same batch."""
    incremental: PostgresIncremental | None = None
    chunk_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    """Rows fetched per round trip from a server-side cursor, and per Parquet row group."""
    connect_timeout_seconds: int = Field(default=10, ge=1)
    statement_timeout_seconds: int | None = Field(default=None, ge=1)
    connect_attempts: int = Field(default=5, ge=1, le=20)
    backoff_seconds: float = Field(default=0.5, ge=0)
    max_backoff_seconds: float = Field(default=15.0, ge=0)

    @model_validator(mode="after")
    def _table_or_query(self) -> "PostgresSource":
        if bool(self.table) == bool(self.query):
            raise ValueError("set exactly one of table or query")
        if self.dsn and _dsn_has_password(self.dsn):
            raise ValueError("dsn carries a password: put the connection string in the env var named by dsn_env")
        return self


def _dsn_has_password(dsn: str) -> bool:
    from urllib.parse import urlsplit

    if "://" in dsn:
        return bool(urlsplit(dsn).password)
    return any(part.strip().startswith("password=") for part in dsn.split())


SourceConfig = Annotated[Union[FilesSource, HttpSource, PostgresSource], Field(discriminator="kind")]


class ContractSection(_Strict):
    """The value contract's configurable bounds, applied at every door (API, files, stream, silver)."""

    earliest_date: date = DEFAULT_EARLIEST
    """Event times (invoice, transaction, rate dates) before this day are out of range."""
    future_days: float = Field(default=DEFAULT_FUTURE_DAYS, ge=0, le=3650)
    """...and so are those more than this many days after now (clock skew, time zones)."""

    def window(self, now: datetime | None = None) -> DateWindow:
        return DateWindow.from_config(self.earliest_date, self.future_days, now)


class CurrencySection(_Strict):
    base: str = "GBP"
    max_rate_age_days: int = Field(default=7, ge=0)
    """Conversion takes the latest rate on or before the day (weekends, holidays); older than this is quarantined."""


class StreamSection(_Strict):
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


class ServingSection(_Strict):
    """The serving store behind the purchase-history API (DynamoDB's role)."""

    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = ".cartflow/serving.db"
    dsn_env: str = "CARTFLOW_SERVING_DSN"
    pg_schema: str = "cartflow_serving"
    """PostgreSQL schema that holds the serving tables (created when missing)."""


class ApiSection(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_key_env: str = "CARTFLOW_API_KEY"
    read_key_env: str = "CARTFLOW_READ_KEY"
    """Env var with the keys (comma-separated) that purchase-history reads and the dashboard need; unset or
    empty: reads are open to anyone who reaches the port."""
    max_body_bytes: int = Field(default=5_000_000, ge=1)
    max_batch: int = Field(default=5_000, ge=1)


# -- operations: retries, schedules, file-arrival trigger, alerts, quality, logs (issue 6) ----
class RetryOverride(_Strict):
    attempts: int | None = Field(default=None, ge=1, le=20)
    backoff_seconds: float | None = Field(default=None, ge=0)
    max_backoff_seconds: float | None = Field(default=None, ge=0)
    jitter: float | None = Field(default=None, ge=0, le=1)


class RetriesSection(_Strict):
    """Per-source extraction retries: exponential backoff with jitter."""

    attempts: int = Field(default=3, ge=1, le=20)
    backoff_seconds: float = Field(default=2.0, ge=0)
    max_backoff_seconds: float = Field(default=60.0, ge=0)
    jitter: float = Field(default=0.5, ge=0, le=1)
    sources: dict[str, RetryOverride] = Field(default_factory=dict)
    """`[retries.sources.<name>]` overrides the policy for one source."""


class ScheduleJob(_Strict):
    cron: str
    """Five-field cron expression, e.g. "0 2 * * *" (02:00 every day), in `[schedule] timezone`."""
    catchup: bool | None = None
    """Run every fire time missed while the scheduler was down (default: `[schedule] catchup`)."""
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError("not a valid cron expression (five fields: minute hour day month weekday)")
        return value


class ScheduleSection(_Strict):
    timezone: str = "UTC"
    catchup: bool = False
    """false (default, like Airflow's catchup=False): after downtime run once for the latest missed time."""
    max_catchup_runs: int = Field(default=24, ge=1)
    jobs: dict[str, ScheduleJob] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _valid_tz(cls, value: str) -> str:
        return _check_timezone(value)


class WatchSection(_Strict):
    poll_seconds: float = Field(default=2.0, gt=0)
    debounce_seconds: float = Field(default=5.0, ge=0)
    """Start a run once no file has arrived or changed for this long."""
    max_wait_seconds: float = Field(default=60.0, gt=0)
    """...but never wait longer than this after the first new file (a steady trickle still runs)."""


class WebhookAlerts(_Strict):
    url: str | None = None
    url_env: str | None = None
    """The env var holding the URL (preferred: a Slack webhook URL is a secret)."""
    format: Literal["slack", "json"] = "slack"
    timeout_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _one_url(self) -> "WebhookAlerts":
        if bool(self.url) == bool(self.url_env):
            raise ValueError("set exactly one of url or url_env")
        return self


class EmailAlerts(_Strict):
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    from_addr: str = "cartflow@localhost"
    to: list[str] = Field(min_length=1)
    starttls: bool = False
    ssl: bool = False
    username_env: str | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)


class AlertsSection(_Strict):
    on_failure: bool = True
    on_partial: bool = True
    on_success: bool = False
    on_quality: bool = True
    log: str | None = ".cartflow/alerts.jsonl"
    """Every alert is appended here as a JSON line, with how its deliveries went."""
    delivery_attempts: int = Field(default=3, ge=1, le=10)
    delivery_backoff_seconds: float = Field(default=1.0, ge=0)
    webhook: WebhookAlerts | None = None
    email: EmailAlerts | None = None


class QualitySection(_Strict):
    quarantine_max_share: float | None = Field(default=0.05, ge=0, le=1)
    """Alert when more than this share of a run's new rows went to quarantine."""
    quarantine_min_rows: int = Field(default=100, ge=0)
    """...judged only when the run brought at least this many rows (tiny batches are noisy)."""
    freshness_max_hours: float | None = Field(default=None, gt=0)
    """Alert when a source's newest data is older than this."""
    freshness_basis: Literal["arrival", "event"] = "arrival"
    """arrival: when the newest batch was received; event: the newest order line's invoice time."""


class LoggingSection(_Strict):
    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str | None = ".cartflow/logs/cartflow.jsonl"
    """JSON lines, rotated at 10 MB; "" to disable."""


class ProjectConfig(_Strict):
    project: ProjectSection = Field(default_factory=ProjectSection)
    lake: LakeSection = Field(default_factory=LakeSection)
    warehouse: WarehouseSection = Field(default_factory=WarehouseSection)
    state: StateSection = Field(default_factory=StateSection)
    currency: CurrencySection = Field(default_factory=CurrencySection)
    contract: ContractSection = Field(default_factory=ContractSection)
    stream: StreamSection = Field(default_factory=StreamSection)
    serving: ServingSection = Field(default_factory=ServingSection)
    api: ApiSection = Field(default_factory=ApiSection)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    retries: RetriesSection = Field(default_factory=RetriesSection)
    schedule: ScheduleSection = Field(default_factory=ScheduleSection)
    watch: WatchSection = Field(default_factory=WatchSection)
    alerts: AlertsSection = Field(default_factory=AlertsSection)
    quality: QualitySection = Field(default_factory=QualitySection)
    logging: LoggingSection = Field(default_factory=LoggingSection)

    @model_validator(mode="after")
    def _retries_name_sources(self) -> "ProjectConfig":
        unknown = sorted(set(self.retries.sources) - set(self.sources))
        if unknown:
            raise ValueError(f"[retries.sources] names unknown source(s) {unknown} (known: {sorted(self.sources)})")
        return self

    @model_validator(mode="after")
    def _order_lines_in_the_base_currency(self) -> "ProjectConfig":
        """Order-line prices are not converted: a currency other than the base would be mislabelled."""
        base = self.currency.base
        named = [(f"[sources.{name}] currency", s.currency) for name, s in self.sources.items()
                 if getattr(s, "entity", None) == "order_lines" and "currency" in s.model_fields_set]
        if "currency" in self.stream.model_fields_set:
            named.append(("[stream] currency", self.stream.currency))
        for where, currency in named:
            if currency != base:
                raise ValueError(f"{where} = {currency!r}, but order lines are read in the base currency "
                                 f"([currency] base = {base!r}) and never converted: set [currency] base = "
                                 f"{currency!r}, or convert the prices before they land")
        return self


class Project:
    """A loaded project: its directory, its validated config, and the paths derived from them."""

    def __init__(self, root: Path, config: ProjectConfig) -> None:
        self.root = root.resolve()
        self.config = config

    @property
    def lake_uri(self) -> str:
        root = self.config.lake.root
        if "://" in root:
            return root.rstrip("/")
        return str((self.root / root).resolve())

    @property
    def lake_is_local(self) -> bool:
        return "://" not in self.config.lake.root

    @property
    def warehouse_path(self) -> Path:
        if self.config.warehouse.path:
            return self.resolve(self.config.warehouse.path)
        if self.lake_is_local:
            return Path(self.lake_uri) / "warehouse.duckdb"
        return self.root / ".cartflow" / "warehouse.duckdb"

    @property
    def state_path(self) -> Path:
        return self.resolve(self.config.state.path)

    @property
    def work_dir(self) -> Path:
        """Local scratch and lock files; never part of the lake."""
        return self.root / ".cartflow"

    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.root / p


def load_project(directory: Path | str = ".") -> Project:
    """Read and validate `<directory>/cartflow.toml`, with `CARTFLOW__SECTION__KEY` env overrides."""
    root = Path(directory)
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"no {CONFIG_FILE} in {root.resolve()}: run `cartflow init {directory}` to create one, "
            "or pass --project DIR"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    env = _apply_env_overrides(raw, os.environ)
    return Project(root, parse_config(raw, source=str(path), env=env))


def parse_config(raw: dict[str, Any], source: str = CONFIG_FILE,
                 env: dict[tuple[str, ...], str] | None = None) -> ProjectConfig:
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        from cartflow.config_errors import format_validation_error  # it reads this module's schema

        raise ConfigError(format_validation_error(exc, raw, source, env)) from None


def _apply_env_overrides(raw: dict[str, Any], environ: Any) -> dict[tuple[str, ...], str]:
    """`CARTFLOW__LAKE__ROOT=s3://b/p` sets `[lake] root`; values are parsed as TOML scalars.

    Returns which keys came from which variable, so an error can say so."""
    applied: dict[tuple[str, ...], str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
        if not parts:
            continue
        cur = raw
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
            if not isinstance(cur, dict):
                break
        else:
            cur[parts[-1]] = _parse_scalar(value)
            applied[tuple(parts)] = name
    return applied


def _parse_scalar(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value
