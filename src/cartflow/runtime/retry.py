"""Retries with exponential backoff and jitter, for sources and alert deliveries.

Jitter spreads retries of many runs (or many sources failing at once against the same
API) so they do not hammer a recovering service in lockstep. Errors that cannot get
better by waiting (bad config, a missing extractor, anything with `retryable = False`)
fail on the first attempt.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from cartflow.config import ConfigError

T = TypeVar("T")

#: errors that waiting cannot fix
NOT_RETRYABLE: tuple[type[BaseException], ...] = (ConfigError, NotImplementedError, TypeError)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    """Total tries, the first one included (1 = no retry)."""
    backoff_seconds: float = 2.0
    """Wait before the first retry; doubled for each later one."""
    max_backoff_seconds: float = 60.0
    jitter: float = 0.5
    """Fraction of each wait that is random: 0 = exact waits, 1 = anywhere from 0 to the full wait."""

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        base = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (retry - 1))
        r = (rng or random).random()
        return base * (1 - self.jitter * r)


@dataclass
class Outcome(Generic[T]):
    """What a retried call came to: its value, or the last error, and how many tries it took."""

    value: T | None
    attempts: int
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def is_retryable(exc: BaseException) -> bool:
    explicit = getattr(exc, "retryable", None)
    if explicit is not None:
        return bool(explicit)
    return not isinstance(exc, NOT_RETRYABLE)


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy, *,
                    on_retry: Callable[[int, BaseException, float], None] | None = None,
                    sleep: Callable[[float], None] = time.sleep,
                    rng: random.Random | None = None) -> Outcome[T]:
    """Call `fn` until it succeeds or the policy gives up; never raises an `Exception`.

    `on_retry(attempt, error, delay)` is called before each wait, so callers can log it.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return Outcome(fn(), attempt)
        except Exception as exc:  # noqa: BLE001 - the outcome carries it
            if attempt >= policy.attempts or not is_retryable(exc):
                return Outcome(None, attempt, exc)
            wait = policy.delay(attempt, rng)
            if on_retry:
                on_retry(attempt, exc, wait)
            sleep(wait)


def policy_for_source(project: Any, name: str) -> RetryPolicy:
    """`[retries]`, overlaid by `[retries.sources.<name>]`."""
    cfg = project.config.retries
    base = {"attempts": cfg.attempts, "backoff_seconds": cfg.backoff_seconds,
            "max_backoff_seconds": cfg.max_backoff_seconds, "jitter": cfg.jitter}
    override = cfg.sources.get(name)
    if override is not None:
        base.update({k: v for k, v in override.model_dump().items() if v is not None})
    return RetryPolicy(**base)
