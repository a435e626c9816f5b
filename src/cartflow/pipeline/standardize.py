"""raw → bronze → silver/gold: parse new batches, run the SQLMesh models, reconcile.

Only batches that have not reached silver are read ("pending"), and a run stops loudly
when any batch breaks `rows(raw) = rows(silver) + rows(quarantine)`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cartflow.config import Project, SourceConfig, StreamSection
from cartflow.entities import ENTITIES as CONTRACTS
from cartflow.entities import ENTITY_NAMES
from cartflow.lake.raw import Rejection, record_rejection
from cartflow.lake.storage import Storage
from cartflow.pipeline import publish_due
from cartflow.runtime.progress import Reporter
from cartflow.runtime.state import Manifest, StateStore
from cartflow.runtime.text import printable
from cartflow.sources.file_checks import rejection_code
from cartflow.transform.inputs import fed_entities, input_variables, pending_key, write_inputs, write_pending
from cartflow.transform.runner import TransformSettings, models_changed, reconcile_pending, transform
from cartflow.transform.warehouse import open_warehouse

if TYPE_CHECKING:  # the converter loads pyarrow (~0.2 s): a run with nothing landed does not need it
    from cartflow.lake.bronze import BronzeResult

ENTITIES = ENTITY_NAMES
__all__ = ["ENTITIES", "BronzeOutcome", "ModelsOutcome", "ReconciliationError", "pending_key", "run_models", "to_bronze",
           "transform_settings", "write_pending"]


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
    if not landed:
        stage.done()
        return outcome
    from cartflow.lake.bronze import BronzeError

    for m in landed:
        source: SourceConfig | StreamSection | None = project.config.sources.get(m.source)
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
    from cartflow.lake.bronze import layout_for
    from cartflow.lake.bronze import to_bronze as convert_to_bronze

    layout = layout_for(source, m.raw_key, timezone=project.config.project.timezone)
    return convert_to_bronze(storage, m.raw_key, source=m.source, entity=m.entity, batch_id=m.batch_id,
                             source_file=m.source_file, ingested_at=datetime.fromisoformat(m.extracted_at),
                             layout=layout)


def transform_settings(project: Project, storage: Storage, *, write: bool = True) -> TransformSettings:
    """Write the models' inputs (settings table, empty bronze stubs) and say where everything is."""
    variables = write_inputs(project, storage) if write else input_variables(project, storage)
    return TransformSettings(warehouse=project.warehouse_path, variables=variables,
                             engine=open_warehouse(project, storage), connection_setup=storage.prepare_duckdb,
                             project_dir=project.root)


@dataclass
class ModelsOutcome:
    batches: list[Manifest]
    """The batches this run took through silver and gold."""
    ran: bool
    """SQLMesh evaluated models (new batches, a changed model, --select, --full-refresh): publish follows."""


def run_models(project: Project, storage: Storage, state: StateStore, reporter: Reporter, *,
               select: tuple[str, ...] = (), full_refresh: bool = False) -> ModelsOutcome:
    """Run SQLMesh over the pending batches, reconcile them, and mark them transformed.

    Only the models an enabled source (or a pending batch) can feed are evaluated.
    `select`: only these models (`model+`: and downstream); batches whose entity's silver
    model is not selected stay pending. `full_refresh`: rebuild what is selected from
    every batch so far.
    """
    pending = state.manifests(status="bronze")
    if not (pending or select or full_refresh or models_changed(transform_settings(project, storage, write=False))):
        return ModelsOutcome([], ran=False)
    everything = state.manifests(status="transformed") + pending
    feed = everything if full_refresh else pending
    for entity in ENTITIES:
        write_pending(storage, entity, [m.batch_id for m in feed if m.entity == entity])
    settings = dataclasses.replace(transform_settings(project, storage),
                                   entities=tuple(sorted(fed_entities(project) | {m.entity for m in feed})))
    project.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    if feed or state.manifests():  # a lake that never took a batch owes no publish (pipeline/run.py)
        publish_due.owe(project, [m.batch_id for m in feed])  # before gold changes: a killed run's is published next
    stage = reporter.stage("silver + gold (SQLMesh)")
    result = transform(settings, progress=lambda detail: stage.advance(detail=detail), select=select,
                       full_refresh=full_refresh)
    if result.rebuilt_models and not full_refresh:
        # a breaking model change gave an incremental table a new, empty version: replay
        # every batch so it holds the whole history again (unique-key merges keep it exact)
        for entity in ENTITIES:
            write_pending(storage, entity, [m.batch_id for m in everything if m.entity == entity])
        stage.advance(detail=f"replaying {len(everything)} batch(es) into {', '.join(result.rebuilt_models)}")
        transform(settings, progress=lambda detail: stage.advance(detail=detail), select=select)
    stage.done()
    done = [m for m in pending if result.evaluated is None or _silver_ran(m.entity, result.evaluated)]
    checked = everything if full_refresh else done
    by_entity: dict[str, list[str]] = {}
    for m in checked:
        by_entity.setdefault(m.entity, []).append(m.batch_id)
    breaks = [r for r in reconcile_pending(settings, by_entity) if not r.ok]
    if breaks:
        lines = "; ".join(f"{b.entity} batch {b.batch_id}: bronze {b.bronze_rows} != silver {b.silver_rows} + "
                          f"quarantine {b.quarantine_rows}" for b in breaks)
        raise ReconciliationError(f"reconciliation break, run stopped before publish: {lines}")
    for m in done:
        state.update_manifest(m.source, m.entity, m.batch_id, status="transformed")
    return ModelsOutcome(done, ran=True)


def _silver_ran(entity: str, evaluated: tuple[str, ...]) -> bool:
    """Did this run evaluate the entity's silver and quarantine models (so its batches are done)?"""
    contract = CONTRACTS[entity]
    return contract.silver_model in evaluated and contract.quarantine_model in evaluated
