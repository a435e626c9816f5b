"""Loading a project: `cartflow.toml` read, `CARTFLOW__SECTION__KEY` overrides applied, validated.

`ProjectConfig` is the whole schema (one field per section); `Project` adds the paths derived
from it; `load_project` is what every command calls.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from cartflow.config.base import CONFIG_FILE, ENV_PREFIX, ConfigError, Strict
from cartflow.config.operations import (
    AlertsSection,
    LoggingSection,
    QualitySection,
    RetriesSection,
    ScheduleSection,
    WatchSection,
)
from cartflow.config.sections import (
    ApiSection,
    ContractSection,
    CurrencySection,
    LakeSection,
    ProjectSection,
    ServingSection,
    StateSection,
    StreamSection,
    WarehouseSection,
)
from cartflow.config.sources import SourceConfig


class ProjectConfig(Strict):
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
    def _retries_name_sources(self) -> ProjectConfig:
        unknown = sorted(set(self.retries.sources) - set(self.sources))
        if unknown:
            raise ValueError(f"[retries.sources] names unknown source(s) {unknown} (known: {sorted(self.sources)})")
        return self

    @model_validator(mode="after")
    def _order_lines_in_the_base_currency(self) -> ProjectConfig:
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
        from cartflow.config.errors import format_validation_error  # it reads the schema

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
