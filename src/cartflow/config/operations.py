"""The operations sections of `cartflow.toml`: retries, schedule, watch, alerts, quality checks, logging."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from cartflow.config.base import Strict, check_timezone


class RetryOverride(Strict):
    attempts: int | None = Field(default=None, ge=1, le=20)
    backoff_seconds: float | None = Field(default=None, ge=0)
    max_backoff_seconds: float | None = Field(default=None, ge=0)
    jitter: float | None = Field(default=None, ge=0, le=1)


class RetriesSection(Strict):
    """Per-source extraction retries: exponential backoff with jitter."""

    attempts: int = Field(default=3, ge=1, le=20)
    backoff_seconds: float = Field(default=2.0, ge=0)
    max_backoff_seconds: float = Field(default=60.0, ge=0)
    jitter: float = Field(default=0.5, ge=0, le=1)
    sources: dict[str, RetryOverride] = Field(default_factory=dict)
    """`[retries.sources.<name>]` overrides the policy for one source."""


class ScheduleJob(Strict):
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


class ScheduleSection(Strict):
    timezone: str = "UTC"
    catchup: bool = False
    """false (default, like Airflow's catchup=False): after downtime run once for the latest missed time."""
    max_catchup_runs: int = Field(default=24, ge=1)
    jobs: dict[str, ScheduleJob] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _valid_tz(cls, value: str) -> str:
        return check_timezone(value)


class WatchSection(Strict):
    poll_seconds: float = Field(default=2.0, gt=0)
    debounce_seconds: float = Field(default=5.0, ge=0)
    """Start a run once no file has arrived or changed for this long."""
    max_wait_seconds: float = Field(default=60.0, gt=0)
    """...but never wait longer than this after the first new file (a steady trickle still runs)."""


class WebhookAlerts(Strict):
    url: str | None = None
    url_env: str | None = None
    """The env var holding the URL (preferred: a Slack webhook URL is a secret)."""
    format: Literal["slack", "json"] = "slack"
    timeout_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _one_url(self) -> WebhookAlerts:
        if bool(self.url) == bool(self.url_env):
            raise ValueError("set exactly one of url or url_env")
        return self


class EmailAlerts(Strict):
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    from_addr: str = "cartflow@localhost"
    to: list[str] = Field(min_length=1)
    starttls: bool = False
    ssl: bool = False
    username_env: str | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)


class AlertsSection(Strict):
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


class QualitySection(Strict):
    quarantine_max_share: float | None = Field(default=0.05, ge=0, le=1)
    """Alert when more than this share of a run's new rows went to quarantine."""
    quarantine_min_rows: int = Field(default=100, ge=0)
    """...judged only when the run brought at least this many rows (tiny batches are noisy)."""
    freshness_max_hours: float | None = Field(default=None, gt=0)
    """Alert when a source's newest data is older than this."""
    freshness_basis: Literal["arrival", "event"] = "arrival"
    """arrival: when the newest batch was received; event: the newest order line's invoice time."""


class LoggingSection(Strict):
    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str | None = ".cartflow/logs/cartflow.jsonl"
    """JSON lines, rotated at 10 MB; "" to disable."""
