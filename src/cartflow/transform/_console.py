"""A quiet SQLMesh console that keeps what the runner needs: failures and timings.

SQLMesh reports a failed model through its console (``log_failed_models``) and then
returns a FAILURE status or raises a generic "Plan application failed"; without a console
that records them, the caller would never learn which model failed or why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, cast

from sqlmesh.core.console import NoopConsole


class CapturingConsole(NoopConsole):
    """NoopConsole that records failed models, per-model evaluation time and errors."""

    def __init__(self, progress: Callable[[str], None] | None = None) -> None:
        self.failed_models: dict[str, str] = {}
        self.model_seconds: dict[str, float] = defaultdict(float)
        self.errors: list[str] = []
        self._progress = progress or (lambda _message: None)

    def update_snapshot_evaluation_progress(self, snapshot: Any, interval: Any, batch_idx: int,
                                            duration_ms: int | None, num_audits_passed: int,
                                            num_audits_failed: int, *args: Any, **kwargs: Any) -> None:
        seconds = (duration_ms or 0) / 1000
        name = model_name(snapshot.name)
        self.model_seconds[name] += seconds
        self._progress(f"evaluated {name} in {seconds:.2f}s ({num_audits_passed} audits passed)")

    def log_failed_models(self, errors: list[Any]) -> None:
        for error in errors:
            node = error.node
            name = cast(str, getattr(node, "snapshot_name", None) or getattr(node, "name", str(node)))
            cause = error.__cause__ or error
            self.failed_models[model_name(name)] = f"{type(cause).__name__}: {cause}"

    def log_error(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.errors.append(message)


def model_name(name: str) -> str:
    """'"warehouse"."gold"."fct_order"' -> 'gold.fct_order'."""
    parts = [part.strip('"') for part in name.split(".")]
    return ".".join(parts[-2:])
