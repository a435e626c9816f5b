"""What every part of the `cartflow.toml` schema shares: the error type, strict models, time zones."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

CONFIG_FILE = "cartflow.toml"
ENV_PREFIX = "CARTFLOW__"


class ConfigError(Exception):
    """cartflow.toml is missing or invalid; the message says where and how to fix it."""


# A config table: an unknown key is an error (a typo must not be silently ignored). A comment, not a
# docstring: pydantic would take a docstring for every section's schema description.
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone (use an IANA name such as UTC or Europe/London)") from None
    return value
