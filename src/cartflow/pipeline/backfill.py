"""Backfill: `cartflow run --from DATE --to DATE` restates a date range through SQLMesh.

What a restatement can honestly do here: silver and gold facts are
INCREMENTAL_BY_UNIQUE_KEY models, and SQLMesh cannot restate part of such a table (a
key may be overwritten by any later interval), so it expands every restatement of them
to the model's full history and rebuilds the table. Those models read only the batches
on the pending list, so for a restatement the pending list must hold *every* batch that
reached silver — otherwise the rebuilt tables would hold only the range. The date range
therefore chooses which batches the restatement is about (those with order lines
between the dates: they are reported, quality-checked, and must exist), while the
rebuild itself covers everything. Its cost grows with the history, not the range.

It is idempotent: the rebuild is a function of bronze and the model code, so running
it twice leaves identical tables, and every batch must reconcile afterwards
(`raw = silver + quarantine`) before anything is published. It is also how a fix to a
cleaning rule reaches rows already processed: `cartflow dlq replay quarantine` uses it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cartflow.config import Project
from cartflow.lake.storage import Storage
from cartflow.pipeline import publish_due
from cartflow.pipeline.standardize import ENTITIES, ReconciliationError, transform_settings, write_pending
from cartflow.runtime.progress import Reporter
from cartflow.runtime.state import StateStore
from cartflow.transform.runner import TransformError, open_context, reconcile_pending

log = logging.getLogger(__name__)

#: every silver model (all entities); SQLMesh restates everything downstream of them too
RESTATE_MODELS = ("silver.*",)


class BackfillError(Exception):
    """The restatement cannot run; the message says why and what to do."""


@dataclass(frozen=True)
class Restatement:
    start: date | None = None
    end: date | None = None
    """Inclusive business dates (invoice dates)."""
    batch_ids: tuple[str, ...] | None = None
    """Or the batches to restate, explicitly (a DLQ replay)."""
    reason: str = "backfill"

    def describe(self) -> str:
        if self.batch_ids is not None:
            return f"{len(self.batch_ids)} batch(es) ({self.reason})"
        return f"{self.start}..{self.end}"


def parse_range(start: str | None, end: str | None) -> Restatement | None:
    """`--from/--to` as a Restatement; both or neither, ISO dates, from <= to."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise BackfillError("--from and --to go together: give both dates (YYYY-MM-DD), inclusive")
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise BackfillError(f"--from/--to: {exc}; use YYYY-MM-DD, e.g. --from 2011-01-01 --to 2011-01-31") from None
    if first > last:
        raise BackfillError(f"--from {first} is after --to {last}")
    return Restatement(first, last)


def batches_in_range(project: Project, storage: Storage, first: date, last: date, known: set[str]) -> list[str]:
    """Batches (among `known`) holding at least one order line dated between the dates, from bronze."""
    import duckdb

    settings = transform_settings(project, storage)
    fmt = settings.variables["order_date_format"]
    con = duckdb.connect()
    try:
        storage.prepare_duckdb(con)
        rows = con.execute(
            "SELECT DISTINCT _batch_id FROM read_parquet(?, union_by_name := true) WHERE CAST(COALESCE("
            "try_strptime(trim(invoice_date), ?), TRY_CAST(trim(invoice_date) AS TIMESTAMP)) AS DATE) "
            "BETWEEN ? AND ?", [settings.variables["bronze_order_lines"], fmt, first, last]).fetchall()
    except duckdb.IOException:
        rows = []  # no bronze yet
    finally:
        con.close()
    return sorted(r[0] for r in rows if r[0] in known)


def restate_range(project: Project, storage: Storage, state: StateStore, reporter: Reporter,
                  restatement: Restatement) -> dict[str, Any]:
    """Rebuild silver and gold from every batch, for the batches the restatement names; reconcile all."""
    pending = state.manifests(status="bronze")
    done = state.manifests(status="transformed")
    every = done + pending
    known = {m.batch_id for m in every}
    if restatement.batch_ids is not None:
        unknown = sorted(set(restatement.batch_ids) - known)
        if unknown:
            raise BackfillError(f"batch(es) {', '.join(b[:12] for b in unknown)} never reached bronze: nothing "
                                "to restate there (`cartflow catalog` lists what exists)")
        selected = sorted(set(restatement.batch_ids))
    else:
        assert restatement.start and restatement.end
        selected = batches_in_range(project, storage, restatement.start, restatement.end, known)
    _require_bronze(storage, every)
    if not selected:
        raise BackfillError(f"no batch holds order lines from {restatement.start} to {restatement.end}: nothing "
                            "to restate (check the dates; `cartflow sql` can show the data's date range)")
    for entity in ENTITIES:
        write_pending(storage, entity, [m.batch_id for m in every if m.entity == entity])
    settings = transform_settings(project, storage)
    stage = reporter.stage(f"restate {restatement.describe()} (SQLMesh)")
    t0 = time.perf_counter()
    log.info("restating %s: %d batch(es) selected, rebuilding from all %d", restatement.describe(), len(selected),
             len(every), extra={"selected": len(selected), "batches": len(every)})
    end = restatement.end + timedelta(days=1) if restatement.end else None
    if end is not None and end > date.today():
        end = None  # SQLMesh refuses an end in the future; None means "now"
    publish_due.owe(project, [*selected, *(m.batch_id for m in pending)])  # before gold changes
    _plan_restatement(settings, restatement.start, end, progress=lambda d: stage.advance(detail=d))
    stage.done()
    by_entity: dict[str, list[str]] = {}
    for m in every:
        by_entity.setdefault(m.entity, []).append(m.batch_id)
    breaks = [r for r in reconcile_pending(settings, by_entity) if not r.ok]
    if breaks:
        raise ReconciliationError("reconciliation break after the restatement, nothing published: "
                                  + "; ".join(str(b) for b in breaks))
    for m in pending:
        state.update_manifest(m.source, m.entity, m.batch_id, status="transformed")
    return {"from": str(restatement.start) if restatement.start else None,
            "to": str(restatement.end) if restatement.end else None, "reason": restatement.reason,
            "batches": selected, "rebuilt_from_batches": len(every),
            "models": list(RESTATE_MODELS), "seconds": round(time.perf_counter() - t0, 3)}


def _require_bronze(storage: Storage, batches: list[Any]) -> None:
    """A restatement rebuilds from bronze: every batch's bronze file must be there.

    When one is gone, say which, and whether its raw copy could rebuild it (or is gone
    too, by `[lake] raw_retention`), instead of letting the rebuild lose its rows.
    """
    present = set(storage.list("bronze"))
    missing = [m for m in batches if m.bronze_key and m.bronze_key not in present]
    if not missing:
        return
    from cartflow.lake.raw import raw_gone

    shown = "; ".join(f"{m.bronze_key}: " + (raw_gone(m) or f"its raw copy {m.raw_key} is still there")
                      for m in missing[:5]) + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else "")
    raise BackfillError(f"{len(missing)} batch(es) have no bronze file, and a restatement rebuilds silver and gold "
                        f"from bronze: {shown}. Restore the bronze files from a backup before restating (a batch "
                        "whose raw copy was deleted cannot be converted to bronze again)")


def _plan_restatement(settings: Any, start: date | None, end: date | None, progress: Any) -> None:
    """Deploy model changes, then a restatement plan in prod (SQLMesh backfills it on apply)."""
    from cartflow.transform._console import CapturingConsole

    class Console(CapturingConsole):
        def log_warning(self, short_message: str, long_message: str | None = None, *args: Any, **kw: Any) -> None:
            # e.g. "does not support partial restatement ... expanding": expected here, see the module doc
            log.info("SQLMesh: %s", " ".join((long_message or short_message).split()))

    console = Console(progress=progress)
    with open_context(settings, console) as context:
        for what, kwargs in (("plan", {}),
                             ("restatement", {"restate_models": list(RESTATE_MODELS), "start": start,
                                              "end": end})):
            try:
                context.plan(auto_apply=True, no_prompts=True, skip_tests=True, **kwargs)
            except Exception as exc:  # noqa: BLE001 - re-raised with the failing models named
                failed = "; ".join(f"{m}: {e}" for m, e in console.failed_models.items())
                raise TransformError(f"SQLMesh {what} failed: {failed or exc}", dict(console.failed_models)) from exc
