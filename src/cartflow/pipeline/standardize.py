"""raw → bronze → silver/gold: parse new batches, run the SQLMesh models, reconcile.

Only batches that have not reached silver are read ("pending"), and a run stops loudly
when any batch breaks `rows(raw) = rows(silver) + rows(quarantine)`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cartflow.config import FilesSource, Project
from cartflow.entities import ENTITY_NAMES
from cartflow.lake.bronze import BronzeError, BronzeResult, layout_for
from cartflow.lake.bronze import to_bronze as convert_to_bronze
from cartflow.lake.raw import Rejection, record_rejection
from cartflow.lake.storage import Storage
from cartflow.runtime.progress import Reporter
from cartflow.runtime.state import Manifest, StateStore
from cartflow.runtime.text import printable
from cartflow.sources.file_checks import rejection_code
from cartflow.transform.runner import TransformSettings, reconcile, transform

ENTITIES = ENTITY_NAMES


class ReconciliationError(Exception):
    """raw ≠ silver + quarantine for a batch: something was lost or doubled."""


@dataclass
class BronzeOutcome:
    converted: list[Manifest] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # source -> error
    warnings: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # "<source>/<file>" -> reason


def to_bronze(project: Project, storage: Storage, state: StateStore, reporter: Reporter,
              run_id: str | None = None) -> BronzeOutcome:
    """Convert every landed batch to bronze; a batch that cannot be read is rejected, not its source.

    The rejected batch keeps its raw copy and gets status `rejected` with its reason
    (`cartflow dlq list files` shows it; replay after a fix converts it again); every
    other batch, of that source too, goes on. The run ends `partial`.
    """
    outcome = BronzeOutcome()
    landed = state.manifests(status="landed")
    stage = reporter.stage("bronze", total=len(landed))
    for m in landed:
        source = project.config.sources.get(m.source)
        if source is None and m.source == project.config.stream.source:
            source = project.config.stream  # batches the stream's raw sink landed
        if source is None:
            stage.advance()
            continue
        try:
            result = _convert(storage, m, source, project)
        except (BronzeError, UnicodeError) as exc:  # pyarrow can raise a bare decode error on a binary header
            reason = str(exc) if isinstance(exc, BronzeError) else printable(
                f"{m.source}: {m.source_file}: not readable as text ({exc})")
            record_rejection(state, source=m.source, entity=m.entity, batch_id=m.batch_id, name=m.source_file,
                             size=m.bytes, rejection=Rejection(rejection_code(reason), reason), run_id=run_id,
                             where="bronze", location=m.raw_key, raw=m.raw_key)
            outcome.rejected[f"{m.source}/{m.source_file}"] = reason
            reporter.message(f"source {m.source}: rejected {printable(m.source_file)} (batch {m.batch_id[:12]}, "
                             f"kept in raw; `cartflow dlq list files` shows it): {reason}")
            stage.advance()
            continue
        outcome.warnings += result.warnings
        state.update_manifest(m.source, m.entity, m.batch_id, status="bronze", rows=result.rows,
                              bronze_key=result.key)
        m.rows, m.bronze_key, m.status = result.rows, result.key, "bronze"
        outcome.converted.append(m)
        stage.advance(detail=m.source_file)
    stage.done()
    return outcome


def _convert(storage: Storage, m: Manifest, source: Any, project: Project) -> BronzeResult:
    """One converter for every source kind, entity and format (the stream's batches included)."""
    layout = layout_for(source, m.raw_key, timezone=project.config.project.timezone)
    return convert_to_bronze(storage, m.raw_key, source=m.source, entity=m.entity, batch_id=m.batch_id,
                             source_file=m.source_file, ingested_at=datetime.fromisoformat(m.extracted_at),
                             layout=layout)


def pending_key(entity: str) -> str:
    return f"_pipeline/pending/{entity}.parquet"


def write_pending(storage: Storage, entity: str, batch_ids: list[str]) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"batch_id": pa.array(batch_ids, pa.string())}), buf)
    storage.write_bytes(pending_key(entity), buf.getvalue())


def transform_settings(project: Project, storage: Storage) -> TransformSettings:
    opts = next((s.csv for s in project.config.sources.values()
                 if isinstance(s, FilesSource) and s.entity == "order_lines"), None)
    variables: dict[str, Any] = {
        "currency": project.config.currency.base,
        "order_date_format": opts.date_format if opts else "%-m/%-d/%Y %-H:%M",
    }
    for entity in ENTITIES:
        variables[f"bronze_{entity}"] = storage.uri(f"bronze/{entity}") + "/*.parquet"
        variables[f"pending_{entity}"] = storage.uri(pending_key(entity))
    from cartflow.pipeline.entity_settings import entity_variables

    variables.update(entity_variables(project, storage))
    spark = None
    if project.config.warehouse.engine == "spark":
        from cartflow.transform.spark import SparkSettings

        spark = SparkSettings.from_project(project)
    return TransformSettings(warehouse=project.warehouse_path, variables=variables,
                             connection_setup=storage.prepare_duckdb,  # s3:// lakes: httpfs
                             gateway=project.config.warehouse.engine, spark=spark,
                             duckdb_config={"memory_limit": project.config.warehouse.memory_limit})


def run_models(project: Project, storage: Storage, state: StateStore, reporter: Reporter) -> list[Manifest]:
    """Run SQLMesh over the pending batches, reconcile them, and mark them transformed."""
    pending = state.manifests(status="bronze")
    if not pending:
        return []
    for entity in ENTITIES:
        write_pending(storage, entity, [m.batch_id for m in pending if m.entity == entity])
    settings = transform_settings(project, storage)
    project.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    stage = reporter.stage("silver + gold (SQLMesh)")
    result = transform(settings, progress=lambda detail: stage.advance(detail=detail))
    if result.rebuilt_models:
        # a breaking model change gave an incremental table a new, empty version: replay
        # every batch so it holds the whole history again (unique-key merges keep it exact)
        everything = state.manifests(status="transformed") + pending
        for entity in ENTITIES:
            write_pending(storage, entity, [m.batch_id for m in everything if m.entity == entity])
        stage.advance(detail=f"replaying {len(everything)} batch(es) into {', '.join(result.rebuilt_models)}")
        transform(settings, progress=lambda detail: stage.advance(detail=detail))
    stage.done()
    from cartflow.pipeline.entity_settings import reconcile_entities

    breaks = [r for r in reconcile(settings, [m.batch_id for m in pending if m.entity == "order_lines"])
              + reconcile_entities(settings, pending) if not r.ok]
    if breaks:
        lines = "; ".join(str(b) for b in breaks)
        raise ReconciliationError(f"reconciliation break, run stopped before publish: {lines}")
    for m in pending:
        state.update_manifest(m.source, m.entity, m.batch_id, status="transformed")
    return pending
