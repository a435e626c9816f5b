"""Inputs for the entity models when a caller gives none: empty files, shipped with the package.

The pipeline always passes the real variables (`cartflow.transform.inputs`).
Callers that only know about order lines (SQLMesh unit tests, `transform()` on a bare
order-line lake) still get a project that plans: the customers, products, transactions,
sales and exchange-rate models then read these empty files and produce empty tables.
The files are derived from the entity contracts: after changing an entity's columns (or
the settings table), rewrite them with `write_empty_files()`;
`tests/test_multisource_models.py` fails until they match.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cartflow.entities import ENTITY_NAMES

if TYPE_CHECKING:
    import pyarrow as pa

EMPTY_DIR = Path(__file__).resolve().parent / "empty"
ENTITIES = tuple(e for e in ENTITY_NAMES if e != "order_lines")
"""Every entity but order lines, whose bronze and pending batches every caller must pass."""


@cache
def settings_schema() -> pa.Schema:
    """`SETTINGS_SCHEMA`, the settings table's columns.

    `date_format`: the strptime format the source declared for its timestamps (DuckDB spelling, e.g.
    `%-m/%-d/%Y %-H:%M`), or NULL: then ISO 8601 and the `*_dates` rules apply. `timezone`: the shop's
    IANA zone (`[project] timezone`): naive timestamps are in it, and ISO timestamps with an offset are
    converted to it. `window_start`/`window_end`: the contract's date window for this run (ISO text;
    `[contract] earliest_date`, now + `future_days`), the same on every row: bounds that move with the
    clock are data, never SQLMesh variables (those would change every model's fingerprint). Written per
    run by `cartflow.transform.inputs`; docs/columns.md.
    """
    import pyarrow as pa

    return pa.schema([
        ("source", pa.string()), ("entity", pa.string()), ("kind", pa.string()), ("currency", pa.string()),
        ("rate_base", pa.string()), ("ambiguous_dates", pa.string()), ("slash_dates", pa.string()),
        ("dash_dates", pa.string()), ("dot_dates", pa.string()), ("date_format", pa.string()),
        ("timezone", pa.string()), ("window_start", pa.string()), ("window_end", pa.string()),
    ])


def __getattr__(name: str) -> Any:
    """`SETTINGS_SCHEMA` is built on first use: pyarrow (with numpy, ~0.2 s) loads where a table is
    written, not in every process that imports the runner (`cartflow run` with nothing new)."""
    if name == "SETTINGS_SCHEMA":
        return settings_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ENTITY_DEFAULTS: dict[str, object] = {
    **{f"bronze_{entity}": str(EMPTY_DIR / f"{entity}.parquet") for entity in ENTITIES},
    **{f"pending_{entity}": str(EMPTY_DIR / "pending.parquet") for entity in ENTITIES},
    "source_settings": str(EMPTY_DIR / "source_settings.parquet"),
    "max_rate_age_days": 7,
    "date_formats": [],  # every source's strftime format (transform.inputs); order lines add their own
}


def write_empty_files(directory: Path = EMPTY_DIR) -> list[Path]:
    """(Re)write the empty files from the current schemas (run after changing an entity's columns)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cartflow.lake.bronze import bronze_schema

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    tables = {f"{e}.parquet": bronze_schema(e).empty_table() for e in ENTITIES}
    tables["pending.parquet"] = pa.schema([("batch_id", pa.string())]).empty_table()
    tables["source_settings.parquet"] = settings_schema().empty_table()
    for name, table in tables.items():
        pq.write_table(table, directory / name)
        written.append(directory / name)
    return written
