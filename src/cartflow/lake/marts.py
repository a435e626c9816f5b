"""The published zone of the lake: `<lake>/marts/<table>/data.parquet`, one object per table.

Publish writes it; every reader (`cartflow sql`, the dashboard, the catalog, the API)
finds the tables here, so the layout is defined once, below all of them.
"""

from __future__ import annotations

from cartflow.lake.storage import Storage


def table_key(name: str) -> str:
    return f"marts/{name}/data.parquet"


def published_tables(storage: Storage) -> dict[str, str]:
    """Table name → URI of its Parquet, from what is in the lake now."""
    tables: dict[str, str] = {}
    for key in storage.list("marts"):
        parts = key.split("/")
        if len(parts) == 3 and parts[2].endswith(".parquet"):
            tables[parts[1]] = storage.uri(key)
    return tables
