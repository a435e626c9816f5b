"""What the entity models need from cartflow.toml, and their per-batch reconciliation.

Silver reads per-source rules (default currency, the base of exchange-rate rows, how
day/month dates are read) from a small Parquet table the pipeline writes before each
transform, `_pipeline/sources.parquet`, joined on each row's `_source`. A model cannot
read cartflow.toml, and one SQLMesh variable per source would not survive sources being
added; a table does, and it reaches Spark the same way (READ_PARQUET(@source_settings)).

An entity without any bronze yet gets an empty bronze file, so every model has input:
a project with only the multi-source feeds has no order lines, and the reverse.
"""

from __future__ import annotations

import io
from typing import Any, Iterable

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from cartflow.config import FilesSource, HttpSource, PostgresSource, Project
from cartflow.entities import ENTITY_NAMES
from cartflow.lake.bronze import bronze_schema
from cartflow.lake.storage import Storage
from cartflow.runtime.state import Manifest
from cartflow.transform.entity_defaults import SETTINGS_SCHEMA
from cartflow.transform.runner import BatchReconciliation, TransformSettings

SETTINGS_KEY = "_pipeline/sources.parquet"
EMPTY_FILE = "empty.parquet"

NEW_ENTITIES = tuple(e for e in ENTITY_NAMES if e != "order_lines")
"""The entities reconciled here; order lines have their own reconciliation in the runner."""

def source_settings(project: Project) -> pa.Table:
    """One row per configured source (and the stream's): the rules silver applies to its rows."""
    base, zone = project.config.currency.base, project.config.project.timezone
    rows: list[dict[str, Any]] = []
    for name, s in project.config.sources.items():
        if not isinstance(s, (FilesSource, HttpSource, PostgresSource)):
            continue
        rows.append({"source": name, "entity": s.entity, "kind": s.kind, "currency": s.currency or base,
                     "rate_base": s.rate_base, "ambiguous_dates": s.dates.ambiguous, "slash_dates": s.dates.slash,
                     "dash_dates": s.dates.dash, "dot_dates": s.dates.dot, "date_format": _date_format(s),
                     "timezone": zone})
    stream = project.config.stream
    if stream.source not in project.config.sources:
        rows.append({"source": stream.source, "entity": "order_lines", "kind": "stream", "currency": stream.currency,
                     "rate_base": None, "ambiguous_dates": None, "slash_dates": None, "dash_dates": None,
                     "dot_dates": None, "date_format": stream.invoice_date_format, "timezone": zone})
    return pa.Table.from_pylist(rows, schema=SETTINGS_SCHEMA)


def _date_format(source: FilesSource | HttpSource | PostgresSource) -> str | None:
    """A files source's `[csv] date_format`: always for order lines (its default is the Online Retail
    format they are read with today), only when written down for the other entities, whose day/month
    dates follow the `dates` rules instead."""
    if not isinstance(source, FilesSource):
        return None
    if source.entity == "order_lines" or "date_format" in source.csv.model_fields_set:
        return source.csv.date_format
    return None


def entity_variables(project: Project, storage: Storage) -> dict[str, Any]:
    """Write the settings table and any missing empty bronze file; return the SQLMesh variables."""
    buf = io.BytesIO()
    pq.write_table(source_settings(project), buf)
    storage.write_bytes(SETTINGS_KEY, buf.getvalue())
    for entity in ENTITY_NAMES:
        key = f"bronze/{entity}/{EMPTY_FILE}"
        if not storage.exists(key):
            out = io.BytesIO()
            pq.write_table(bronze_schema(entity).empty_table(), out)
            storage.write_bytes(key, out.getvalue())
    return {"source_settings": storage.uri(SETTINGS_KEY),
            "max_rate_age_days": project.config.currency.max_rate_age_days}


def reconcile_entities(settings: TransformSettings, pending: Iterable[Manifest]) -> list[BatchReconciliation]:
    """Per pending batch of each entity: bronze rows vs silver rows + quarantine rows, counted independently."""
    by_entity: dict[str, list[str]] = {}
    for m in pending:
        if m.entity in NEW_ENTITIES:
            by_entity.setdefault(m.entity, []).append(m.batch_id)
    if not by_entity:
        return []
    results: list[BatchReconciliation] = []
    with duckdb.connect() as lake:
        setup = getattr(settings, "connection_setup", None)
        if setup:
            setup(lake)  # s3:// lakes
        for entity, ids in sorted(by_entity.items()):
            bronze = dict(lake.execute(
                "SELECT _batch_id, COUNT(*) FROM read_parquet(?) WHERE _batch_id IN (SELECT UNNEST(?)) GROUP BY 1",
                [settings.variables[f"bronze_{entity}"], ids]).fetchall())
            silver, quarantine = _silver_counts(settings, entity, ids)
            results += [BatchReconciliation(batch_id=f"{entity}:{b}", bronze_rows=int(bronze.get(b, 0)),
                                            silver_rows=silver.get(b, 0), quarantine_rows=quarantine.get(b, 0))
                        for b in sorted(set(ids))]
    return results


def _silver_counts(settings: TransformSettings, entity: str, ids: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    if getattr(settings, "gateway", "duckdb") == "spark":
        from cartflow.transform.spark import batch_counts

        return (batch_counts(settings, f"silver.{entity}", ids),
                batch_counts(settings, f"silver.quarantine_{entity}", ids))
    with duckdb.connect(str(settings.warehouse), read_only=True) as warehouse:
        return _counts(warehouse, f"silver.{entity}", ids), _counts(warehouse, f"silver.quarantine_{entity}", ids)


def _counts(con: duckdb.DuckDBPyConnection, table: str, ids: list[str]) -> dict[str, int]:
    rows = con.execute(f"SELECT _batch_id, COUNT(*) FROM {table} WHERE _batch_id IN (SELECT UNNEST(?)) GROUP BY 1",
                       [ids]).fetchall()
    return {b: int(n) for b, n in rows}


def entity_layer_counts(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, int], dict[str, int]]:
    """Silver and quarantine rows of each entity that has any, and its quarantine reasons, for run summaries."""
    existing = {r[0] for r in con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()}
    layers: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for entity in NEW_ENTITIES:
        silver, quarantine = f"silver.{entity}", f"silver.quarantine_{entity}"
        if silver not in existing or quarantine not in existing:
            continue
        good = con.execute(f"SELECT count(*) FROM {silver}").fetchone()[0]
        bad = con.execute(f"SELECT count(*) FROM {quarantine}").fetchone()[0]
        if good or bad:
            layers[f"silver {entity}"] = int(good)
            layers[f"quarantine {entity}"] = int(bad)
        by_reason = con.execute(f"SELECT reason, count(*) FROM {quarantine} GROUP BY 1 ORDER BY 2 DESC").fetchall()
        for reason, n in by_reason:
            reasons[f"{entity}: {reason}"] = int(n)
    return layers, reasons
