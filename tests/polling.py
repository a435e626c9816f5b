"""Waiting in tests: poll for the condition, never sleep() a guessed time (a pytest plugin, see conftest).

`wait_until(check)` calls `check` until it returns something truthy and returns that; past `timeout`
it fails the test naming `what` it waited for.
"""

from __future__ import annotations

import time
from typing import Any, Callable


def wait_until(check: Callable[[], Any], timeout: float = 15.0, every: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(every)
