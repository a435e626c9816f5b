"""SQLMesh's DuckDB connection: our merge adapter, plus a setup hook run on every cursor it opens.

Why the hook: on an s3:// lake the models read bronze through httpfs, which must be loaded from
its wheel and given a DuckDB secret before the first query. SQLMesh's own `extensions`
and `secrets` options would `INSTALL` from the network and keep the secret key in the
config object; a hook runs our loader and keeps the key in the process only.
"""

from __future__ import annotations

import typing as t

from pydantic import Field
from sqlmesh.core.config import DuckDBConnectionConfig
from sqlmesh.core.engine_adapter.duckdb import DuckDBEngineAdapter

from cartflow.transform.duckdb_adapter import MergingDuckDBEngineAdapter

Setup = t.Callable[[t.Any], None]


class MergingDuckDBConnectionConfig(DuckDBConnectionConfig):
    """`DuckDBConnectionConfig` that builds our `MergingDuckDBEngineAdapter` (a cheaper unique-key merge)."""

    @property
    def _engine_adapter(self) -> type[DuckDBEngineAdapter]:
        return MergingDuckDBEngineAdapter


class SetupDuckDBConnectionConfig(MergingDuckDBConnectionConfig):
    """`DuckDBConnectionConfig` whose cursors also get `setup(cursor)` (e.g. httpfs + S3 secret)."""

    setup: Setup | None = Field(default=None, exclude=True, repr=False)

    @property
    def _cursor_init(self) -> t.Callable[[t.Any], None] | None:
        base = super()._cursor_init
        setup = self.setup

        def init(cursor: t.Any) -> None:
            if base is not None:
                base(cursor)
            if setup is not None:
                setup(cursor)

        return init


def duckdb_connection(database: str, setup: Setup | None = None,
                      config: dict[str, str] | None = None) -> DuckDBConnectionConfig:
    """No setup hook when there is nothing to set up (a local lake); `config` e.g. memory_limit."""
    if setup is None:
        return MergingDuckDBConnectionConfig(database=database, connector_config=dict(config or {}))
    return SetupDuckDBConnectionConfig(database=database, setup=setup, connector_config=dict(config or {}))
