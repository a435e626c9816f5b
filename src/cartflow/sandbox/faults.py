"""Faults on demand for the sandbox APIs: an error rate, 429s with Retry-After, latency, an outage.

Set at start (`cartflow sandbox up --error-rate 0.2`) or while running, through
`PUT /_sandbox/faults` with a JSON body of the fields below, so a test can break an API
mid-run and heal it again. Admin paths (`/_sandbox/...`) never get faults.
`fail_next` fails exactly that many requests first: deterministic transient faults.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from dataclasses import dataclass, field, fields
from typing import Any

ADMIN_PREFIX = "/_sandbox"


@dataclass
class Faults:
    error_rate: float = 0.0
    """Share of requests answered 503."""
    rate_limit_rate: float = 0.0
    """Share of requests answered 429 with Retry-After."""
    retry_after_seconds: float = 1.0
    latency_ms: float = 0.0
    """Added to every request."""
    fail_next: int = 0
    """The next N requests fail with `fail_status`, whatever the rates say."""
    fail_status: int = 503
    down: bool = False
    """Every request fails with 503: a permanent outage until it is set back."""
    seed: int | None = None
    served: int = 0
    injected: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, values: dict[str, Any]) -> None:
        allowed = {f.name for f in fields(self) if not f.name.startswith("_")} - {"served", "injected"}
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise ValueError(f"unknown fault setting(s) {unknown} (allowed: {sorted(allowed)})")
        with self._lock:
            for key, value in values.items():
                setattr(self, key, value)
            if "seed" in values and values["seed"] is not None:
                self._rng = random.Random(values["seed"])

    def public(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def decide(self) -> tuple[int, dict[str, str]] | None:
        """The status and headers to fail this request with, or None to serve it."""
        with self._lock:
            self.served += 1
            if self.down:
                self.injected += 1
                return 503, {}
            if self.fail_next > 0:
                self.fail_next -= 1
                self.injected += 1
                return self.fail_status, self._retry_after(self.fail_status)
            roll = self._rng.random()
            if roll < self.rate_limit_rate:
                self.injected += 1
                return 429, self._retry_after(429)
            if roll < self.rate_limit_rate + self.error_rate:
                self.injected += 1
                return 503, {}
        return None

    def _retry_after(self, status: int) -> dict[str, str]:
        return {"Retry-After": f"{self.retry_after_seconds:g}"} if status == 429 else {}


class FaultMiddleware:
    """ASGI middleware: latency first, then maybe a failure, else the app."""

    def __init__(self, app: Any, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        decision = self.faults.decide()
        if decision is None:
            await self.app(scope, receive, send)
            return
        status, headers = decision
        body = json.dumps({"message": "injected fault", "status": status}).encode()
        raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


def add_fault_routes(app: Any, faults: Faults) -> None:
    """`GET/PUT /_sandbox/faults`: read and change the faults of a running API."""
    from fastapi import Body, HTTPException

    @app.get(f"{ADMIN_PREFIX}/faults", include_in_schema=False)
    def get_faults() -> dict[str, Any]:
        return faults.public()

    @app.put(f"{ADMIN_PREFIX}/faults", include_in_schema=False)
    def put_faults(values: dict[str, Any] = Body(...)) -> dict[str, Any]:
        try:
            faults.update(values)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return faults.public()
