"""One HTTP GET with timeouts and retries: the part of a REST source that fights the network.

Retried: connection errors and timeouts, 5xx, and 429. A `Retry-After` header (seconds
or an HTTP date) is honoured; otherwise the wait is exponential backoff with jitter, so
many clients hitting a recovering API do not retry in lockstep. Everything else (401,
404, ...) fails at once: waiting cannot fix a bad key or a wrong URL.

Secrets travel in headers only and never appear in a message or a log line: errors
name the URL, the status and what to do.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Callable

import httpx

from cartflow.runtime.retry import RetryPolicy
from cartflow.sources.errors import SourceError

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class FetchStats:
    """What the retries cost, for logs and tests."""

    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0


class RetryingGetter:
    """GET with the source's retry policy; `sleep` and `rng` are injectable for tests."""

    def __init__(self, client: httpx.Client, *, source: str, attempts: int, backoff_seconds: float,
                 max_backoff_seconds: float, max_retry_after_seconds: float,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        self.client = client
        self.source = source
        self.policy = RetryPolicy(attempts=attempts, backoff_seconds=backoff_seconds,
                                  max_backoff_seconds=max_backoff_seconds, jitter=0.5)
        self.max_retry_after = max_retry_after_seconds
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.stats = FetchStats()

    def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """The first 2xx response; raise SourceError once retries are spent or the error is final."""
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            shown = _shown(url, params)
            try:
                response = self.client.get(url, params=params)
            except httpx.TransportError as exc:  # refused, reset, DNS, timeouts
                problem, wait_hint = f"{type(exc).__name__}: {exc or 'no detail'}", None
            else:
                if response.is_success:
                    return response
                if response.status_code not in RETRY_STATUS:
                    raise _final(self.source, shown, response)
                problem = f"HTTP {response.status_code}"
                wait_hint = retry_after(response.headers.get("Retry-After"))
                if wait_hint is not None and wait_hint > self.max_retry_after:
                    raise SourceError(
                        f"source {self.source!r}: GET {shown} answered {response.status_code} asking to retry "
                        f"after {wait_hint:.0f}s, more than max_retry_after_seconds = {self.max_retry_after:g}: "
                        "run again later, or raise the limit in cartflow.toml", retryable=True)
            if attempt >= self.policy.attempts:
                raise SourceError(
                    f"source {self.source!r}: GET {shown} failed {attempt} time(s), last with {problem}: "
                    "check that the API is up and reachable (the run retries the source per [retries])",
                    retryable=True)
            wait = wait_hint if wait_hint is not None else self.policy.delay(attempt, self.rng)
            log.warning("source %s: GET %s: %s; retry %d/%d in %.2fs", self.source, shown, problem,
                        attempt, self.policy.attempts - 1, wait,
                        extra={"source": self.source, "attempt": attempt})
            self.stats.retries += 1
            self.stats.waited_seconds += wait
            self.sleep(wait)


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None when absent/garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _final(source: str, shown: str, response: httpx.Response) -> SourceError:
    code = response.status_code
    hint = {
        401: "the API refused the credentials: check the env var named by auth.token_env",
        403: "the API refused the credentials: check the env var named by auth.token_env and its permissions",
        404: "no such resource: check url in cartflow.toml",
        422: "the API rejected the parameters: check params / pagination / incremental in cartflow.toml",
    }.get(code, "fix the request in cartflow.toml, or ask the API's owner")
    body = response.text[:200].replace("\n", " ") if response.content else ""
    return SourceError(f"source {source!r}: GET {shown} answered HTTP {code}"
                       + (f" ({body})" if body else "") + f": {hint}", retryable=False)


def _shown(url: str, params: dict[str, Any] | None) -> str:
    """The URL as it goes out, for messages: parameters only (secrets live in headers)."""
    if not params:
        return url
    return str(httpx.URL(url, params={k: str(v) for k, v in params.items()}))
