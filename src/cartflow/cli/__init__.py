"""The `cartflow` command line: a thin Typer app, one module per command group.

* `run`: init, run, demo
* `model`: plan, test
* `inspect`: sql, status, runs, catalog, report
* `stream`: serve, consume, send
* `ops`: scheduler, watch, dlq, alerts
* `sandbox`: generate, sandbox
"""

from __future__ import annotations

from cartflow.cli import (
    inspect,  # noqa: F401
    model,  # noqa: F401
    ops,  # noqa: F401
    run,  # noqa: F401
    sandbox,  # noqa: F401
    stream,  # noqa: F401
)

# Each module registers its commands on `app`; the import order is the order of `--help`.
from cartflow.cli._app import app  # noqa: I001

__all__ = ["app"]
