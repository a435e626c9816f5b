"""Open the state store a project's config selects.

Kept light (no transform engine, no lake) so every process can open it cheaply: the API,
the stream consumers and the light CLI commands. The lake is opened by
`cartflow.lake.storage.open_lake`, one layer up.
"""

from __future__ import annotations

from cartflow.config import Project
from cartflow.runtime.state import SqliteState, StateStore


def open_state(project: Project) -> StateStore:
    """SQLite by default; PostgreSQL (`[state] backend = "postgres"`) when machines share a lake."""
    state = project.config.state
    if state.backend == "postgres":
        from cartflow.runtime.pg_state import PostgresState

        return PostgresState.from_env(state.dsn_env, state.schema_)
    return SqliteState(project.state_path)
