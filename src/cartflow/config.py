"""The `cartflow.toml` schema: every backend and source a project uses, validated up front.

Validation errors name the key, the value and what is allowed, so a typo in a config
file is a one-line fix rather than a stack trace.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CONFIG_FILE = "cartflow.toml"
ENV_PREFIX = "CARTFLOW__"


class ConfigError(Exception):
    """cartflow.toml is missing or invalid; the message says where and how to fix it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectSection(_Strict):
    name: str = "cartflow"


class LakeSection(_Strict):
    root: str = "lake"
    """Local directory (relative to the project) or `s3://bucket/prefix`."""
    raw_retention: Literal["keep", "delete_after_standardize"] = "keep"
    endpoint: str | None = None
    region: str = "us-east-1"
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"


class WarehouseSection(_Strict):
    engine: Literal["duckdb", "spark"] = "duckdb"
    path: str | None = None
    """DuckDB file; defaults to `<lake>/warehouse.duckdb` for a local lake."""
    spark_master: str = "local[*]"


class StateSection(_Strict):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = ".cartflow/state.db"
    dsn_env: str = "CARTFLOW_STATE_DSN"


class CsvOptions(_Strict):
    encoding: str = "latin-1"
    delimiter: str = ","
    quote: str = '"'
    date_format: str = "%-m/%-d/%Y %-H:%M"
    decimal: Literal[".", ","] = "."


class FilesSource(_Strict):
    kind: Literal["files"]
    entity: Literal["order_lines"] = "order_lines"
    path: str
    """Directory, or glob (`landing/retail/*.csv`), relative to the project."""
    format: Literal["csv"] = "csv"
    csv: CsvOptions = Field(default_factory=CsvOptions)
    currency: str = "GBP"
    enabled: bool = True
    required: bool = True
    """A failing required source fails the run; an optional one makes it `partial`."""


SourceConfig = Annotated[Union[FilesSource], Field(discriminator="kind")]


class CurrencySection(_Strict):
    base: str = "GBP"


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


class ServingSection(_Strict):
    """The serving store behind the purchase-history API (DynamoDB's role)."""

    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = ".cartflow/serving.db"
    dsn_env: str = "CARTFLOW_SERVING_DSN"


class ApiSection(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_key_env: str = "CARTFLOW_API_KEY"
    max_body_bytes: int = Field(default=5_000_000, ge=1)
    max_batch: int = Field(default=5_000, ge=1)


class ProjectConfig(_Strict):
    project: ProjectSection = Field(default_factory=ProjectSection)
    lake: LakeSection = Field(default_factory=LakeSection)
    warehouse: WarehouseSection = Field(default_factory=WarehouseSection)
    state: StateSection = Field(default_factory=StateSection)
    currency: CurrencySection = Field(default_factory=CurrencySection)
    stream: StreamSection = Field(default_factory=StreamSection)
    serving: ServingSection = Field(default_factory=ServingSection)
    api: ApiSection = Field(default_factory=ApiSection)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)


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
    _apply_env_overrides(raw, os.environ)
    return Project(root, parse_config(raw, source=str(path)))


def parse_config(raw: dict[str, Any], source: str = CONFIG_FILE) -> ProjectConfig:
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, raw, source)) from None


def format_validation_error(exc: ValidationError, raw: dict[str, Any], source: str) -> str:
    """One line per problem: `key = value: what is wrong (allowed: …)`."""
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not _is_union_tag(p, err)]
        key = ".".join(loc)
        value = _lookup(raw, err["loc"])
        shown = "(missing)" if value is _MISSING else repr(value)
        msg = err["msg"]
        allowed = _allowed(err)
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"  {key} = {shown}: {msg}{allowed}")
    return "\n".join(lines)


_MISSING = object()


def _is_union_tag(part: Any, err: dict[str, Any]) -> bool:
    return isinstance(part, str) and part in {"files", "http", "postgres"} and err["type"] != "union_tag_invalid"


def _lookup(raw: Any, loc: tuple[Any, ...]) -> Any:
    cur = raw
    for part in loc:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return _MISSING
    return cur


def _allowed(err: dict[str, Any]) -> str:
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        return f" (allowed: {ctx['expected']})"
    if "expected_tags" in ctx:
        return f" (allowed kinds: {ctx['expected_tags']})"
    return ""


def _apply_env_overrides(raw: dict[str, Any], environ: Any) -> None:
    """`CARTFLOW__LAKE__ROOT=s3://b/p` sets `[lake] root`; values are parsed as TOML scalars."""
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


def _parse_scalar(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value
