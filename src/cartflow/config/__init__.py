"""The `cartflow.toml` schema: every backend and source a project uses, validated up front.

Validation errors name the key, the value and what is allowed, so a typo in a config
file is a one-line fix rather than a stack trace.

* `base`: `ConfigError`, the strict model every table derives from, time-zone checks;
* `sections`: project, lake, warehouse, state, contract, currency, stream, serving, API;
* `sources`: `[sources.<name>]` of each kind (files, HTTP, PostgreSQL), `SourceConfig`;
* `operations`: retries, schedule, watch, alerts, quality checks, logging;
* `project`: `ProjectConfig` (the whole file), `Project`, `load_project`, `parse_config`;
* `errors`: turning pydantic's validation errors into lines a person can act on.

Import from here (``from cartflow.config import Project, load_project``): every name below is
re-exported, whichever module defines it.
"""

from __future__ import annotations

from cartflow.config.base import CONFIG_FILE, ENV_PREFIX, ConfigError, Strict, check_timezone
from cartflow.config.operations import (
    AlertsSection,
    EmailAlerts,
    LoggingSection,
    QualitySection,
    RetriesSection,
    RetryOverride,
    ScheduleJob,
    ScheduleSection,
    WatchSection,
    WebhookAlerts,
)
from cartflow.config.project import Project, ProjectConfig, load_project, parse_config
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
from cartflow.config.sources import (
    CsvOptions,
    DateRules,
    Entity,
    FilesSource,
    HttpAuth,
    HttpIncremental,
    HttpPagination,
    HttpSource,
    PostgresIncremental,
    PostgresSource,
    SourceConfig,
)

__all__ = [
    "CONFIG_FILE", "ENV_PREFIX", "AlertsSection", "ApiSection", "ConfigError", "ContractSection", "CsvOptions",
    "CurrencySection", "DateRules", "EmailAlerts", "Entity", "FilesSource", "HttpAuth", "HttpIncremental",
    "HttpPagination", "HttpSource", "LakeSection", "LoggingSection", "PostgresIncremental", "PostgresSource",
    "Project", "ProjectConfig", "ProjectSection", "QualitySection", "RetriesSection", "RetryOverride",
    "ScheduleJob", "ScheduleSection", "ServingSection", "SourceConfig", "StateSection", "Strict", "StreamSection",
    "WarehouseSection", "WatchSection", "WebhookAlerts", "check_timezone", "load_project", "parse_config",
]
