"""The `cartflow` command line: a thin Typer app, one module per command group.

* `run`: init, run, demo
* `model`: plan, test
* `inspect`: sql, status, runs, catalog, report
* `stream`: serve, consume, send
* `ops`: scheduler, watch, dlq, alerts
* `sandbox`: generate, sandbox
"""

from __future__ import annotations

# Each module registers its commands on `app`; the import order is the order of `--help`.
from cartflow.cli._app import app  # noqa: I001
from cartflow.cli import run  # noqa: F401
from cartflow.cli import model  # noqa: F401
from cartflow.cli import inspect  # noqa: F401
from cartflow.cli import stream  # noqa: F401
from cartflow.cli import ops  # noqa: F401
from cartflow.cli import sandbox  # noqa: F401

__all__ = ["app"]
