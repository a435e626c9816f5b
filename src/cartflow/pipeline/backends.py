"""Open the lake and the state store a project's config selects.

Kept apart from `pipeline.run` so light processes (the API, the stream consumers) can
open them without importing the transform engine, which costs seconds of start-up.
"""

from __future__ import annotations

from cartflow.config import Project
from cartflow.lake.storage import Storage, open_storage
from cartflow.pipeline.state import SqliteState


def open_state(project: Project) -> SqliteState:
    """SQLite by default; PostgreSQL (`[state] backend = "postgres"`) when machines share a lake."""
    state = project.config.state
    if state.backend == "postgres":
        from cartflow.pipeline.pg_state import PostgresState

        return PostgresState.from_env(state.dsn_env, state.schema_)  # type: ignore[return-value]
    return SqliteState(project.state_path)


def open_lake(project: Project) -> Storage:
    lake = project.config.lake
    if project.lake_is_local:
        return open_storage(project.lake_uri)
    return open_storage(project.lake_uri, endpoint=lake.endpoint, region=lake.region,
                        access_key_env=lake.access_key_env, secret_key_env=lake.secret_key_env)
