"""What every layer uses: the state store, the run lock, retries, progress and run logs.

* `state.StateStore`: manifests, runs, watermarks, crashed runs; one implementation over
  a SQLite (`state.SqliteState`) or PostgreSQL (`pg_state.PostgresState`) dialect;
  `backends.open_state(project)` opens the one a project's config selects.
* `lock.RunLock`: one holder per lock file (`flock`), naming who holds it.
* `signals.signals_interrupt`: SIGINT/SIGTERM as `Interrupted`, so a run can record how it ended.
* `children.children_die_with_run`: processes forked during a run die with it.
* `retry`, `progress`, `logs`: backoff, progress reporting, structured logs with the run id.

Nothing here imports a layer above it (lake, sources, transform, ...): this package sits
at the bottom of the stack with `cartflow.entities` and `cartflow.config`.

Import modules explicitly (``from cartflow.runtime.state import StateStore``): importing one of
them must not load the others (`retry` and `backends` load the config schema, which `--help` and
`--version` never need).
"""

__all__ = ["backends", "children", "lock", "logs", "pg_state", "progress", "retry", "signals", "state", "text"]
