"""What the SQLMesh models read besides bronze: the per-source settings table, the pending
batch lists, empty bronze stubs, and the variables that point at them.

Silver reads per-source rules (default currency, the base of exchange-rate rows, how
day/month dates are read) from a small Parquet table written before each transform,
`_pipeline/sources.parquet`, joined on each row's `_source`. A model cannot read
cartflow.toml, and one SQLMesh variable per source would not survive sources being
added; a table does, and it reaches Spark the same way (READ_PARQUET(@source_settings)).

An entity without any bronze yet gets an empty bronze file, so every model has input: a
project with only the multi-source feeds has no order lines, and the reverse. Its
columns are bronze's own (`lake.bronze.bronze_schema`, derived from the entity contract).
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cartflow.config import FilesSource, HttpSource, PostgresSource, Project
from cartflow.entities import ENTITIES, ENTITY_NAMES
from cartflow.lake.storage import Storage
from cartflow.transform.entity_defaults import settings_schema

if TYPE_CHECKING:  # pyarrow (~0.2 s with numpy) loads where a table is written: `input_variables` needs none
    import pyarrow as pa

SETTINGS_KEY = "_pipeline/sources.parquet"
EMPTY_FILE = "empty.parquet"
DEFAULT_ORDER_DATE_FORMAT = "%-m/%-d/%Y %-H:%M"


def __getattr__(name: str) -> Any:
    """`SETTINGS_SCHEMA` and `PENDING_SCHEMA` (`batch_id` text), built on first use (pyarrow)."""
    if name == "SETTINGS_SCHEMA":
        return settings_schema()
    if name == "PENDING_SCHEMA":
        import pyarrow as pa

        return pa.schema([("batch_id", pa.string())])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def source_settings(project: Project, now: datetime | None = None) -> pa.Table:
    """One row per configured source (and the stream's): the rules silver applies to its rows.

    Every row also carries this run's date window (`[contract]`, "now" fixed once, in the
    shop's time zone): its bounds move with the clock, so they reach silver as data, never
    as SQLMesh variables (a changed variable changes every model's fingerprint)."""
    import pyarrow as pa

    base, zone = project.config.currency.base, project.config.project.timezone
    window = project.config.contract.window(now or datetime.now(ZoneInfo(zone)))
    bounds = {"window_start": window.earliest.isoformat(sep=" "), "window_end": window.latest.isoformat(sep=" ")}
    rows: list[dict[str, Any]] = []
    for name, s in project.config.sources.items():
        if not isinstance(s, (FilesSource, HttpSource, PostgresSource)):
            continue
        rows.append({"source": name, "entity": s.entity, "kind": s.kind, "currency": s.currency or base,
                     "rate_base": s.rate_base, "ambiguous_dates": s.dates.ambiguous, "slash_dates": s.dates.slash,
                     "dash_dates": s.dates.dash, "dot_dates": s.dates.dot, "date_format": _date_format(s),
                     "timezone": zone, **bounds})
    stream = project.config.stream
    if stream.source not in project.config.sources:
        rows.append({"source": stream.source, "entity": "order_lines", "kind": "stream", "currency": stream.currency,
                     "rate_base": None, "ambiguous_dates": None, "slash_dates": None, "dash_dates": None,
                     "dot_dates": None, "date_format": stream.invoice_date_format, "timezone": zone, **bounds})
    return pa.Table.from_pylist(rows, schema=settings_schema())


def _date_format(source: FilesSource | HttpSource | PostgresSource) -> str | None:
    """A files source's `[csv] date_format`: always for order lines (its default is the Online Retail
    format they are read with today), only when written down for the other entities, whose day/month
    dates follow the `dates` rules instead."""
    if not isinstance(source, FilesSource):
        return None
    if source.entity == "order_lines" or "date_format" in source.csv.model_fields_set:
        return source.csv.date_format
    return None


def date_formats(project: Project) -> list[str]:
    """Every strftime format a source states (the `date_formats` variable): DuckDB's STRPTIME
    needs a constant format, so silver has one branch per format and each row's source picks
    it. Changes only when cartflow.toml does."""
    formats = {_date_format(s) for s in project.config.sources.values()
               if isinstance(s, (FilesSource, HttpSource, PostgresSource))}
    return sorted(f for f in {*formats, project.config.stream.invoice_date_format} if f)


def fed_entities(project: Project) -> set[str]:
    """Entities that an enabled source feeds (the stream's order lines count once a batch is pending)."""
    return {s.entity for s in project.config.sources.values() if getattr(s, "enabled", True)
            and getattr(s, "entity", None) in ENTITIES}


def pending_key(entity: str) -> str:
    return f"_pipeline/pending/{entity}.parquet"


def write_pending(storage: Storage, entity: str, batch_ids: list[str]) -> None:
    """The batch ids of `entity` the next transform processes (read by bronze.pending_*)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"batch_id": pa.array(batch_ids, pa.string())}), buf)
    storage.write_bytes(pending_key(entity), buf.getvalue())


def write_inputs(project: Project, storage: Storage) -> dict[str, Any]:
    """Write the settings table and any missing empty bronze file; return every input variable."""
    import pyarrow.parquet as pq

    from cartflow.lake.bronze import bronze_schema

    buf = io.BytesIO()
    pq.write_table(source_settings(project), buf)
    storage.write_bytes(SETTINGS_KEY, buf.getvalue())
    for name in ENTITY_NAMES:
        key = f"bronze/{name}/{EMPTY_FILE}"
        if not storage.exists(key):
            out = io.BytesIO()
            pq.write_table(bronze_schema(name).empty_table(), out)
            storage.write_bytes(key, out.getvalue())
    return input_variables(project, storage)


def input_variables(project: Project, storage: Storage) -> dict[str, Any]:
    """The SQLMesh variables that point the models at their inputs (writes nothing)."""
    opts = next((s.csv for s in project.config.sources.values()
                 if isinstance(s, FilesSource) and s.entity == "order_lines"), None)
    variables: dict[str, Any] = {
        "currency": project.config.currency.base,
        "order_date_format": opts.date_format if opts else DEFAULT_ORDER_DATE_FORMAT,
        "source_settings": storage.uri(SETTINGS_KEY),
        "max_rate_age_days": project.config.currency.max_rate_age_days,
        "date_formats": date_formats(project),
    }
    for name in ENTITY_NAMES:
        variables[f"bronze_{name}"] = storage.uri(f"bronze/{name}") + "/*.parquet"
        variables[f"pending_{name}"] = storage.uri(pending_key(name))
    return variables
