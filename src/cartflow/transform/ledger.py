"""Every row accounted for: per-batch reconciliation and layer counts, for every entity.

One implementation over `cartflow.entities.ENTITIES`: for each pending batch of each
entity, the rows in its bronze Parquet (counted from the files themselves, so a view or
model bug cannot hide a loss) must equal the rows of the entity's silver model plus its
quarantine model (counted by the warehouse). The SQLMesh audit `reconciliation_holds`
checks the same rule inside the plan; this is the independent check before publish.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Callable

from cartflow.entities import ENTITIES, ORDER_LINES
from cartflow.transform.warehouse import Warehouse

HEADLINE = ORDER_LINES.name
"""The entity whose counts head a run summary under plain names ("silver", "quarantine", and
its reasons unprefixed); the others are labelled "silver <entity>" and "<entity>: <reason>"."""
FACT_TABLES = ("gold.fct_order_line", "gold.fct_order")
"""Gold facts whose size every run summary reports."""


@dataclass(frozen=True)
class BatchReconciliation:
    batch_id: str
    bronze_rows: int
    silver_rows: int
    quarantine_rows: int
    entity: str = HEADLINE

    @property
    def ok(self) -> bool:
        return self.bronze_rows == self.silver_rows + self.quarantine_rows

    @property
    def label(self) -> str:
        return self.batch_id if self.entity == HEADLINE else f"{self.entity}:{self.batch_id}"


class ReconciliationError(RuntimeError):
    """bronze rows != silver rows + quarantine rows for at least one batch."""

    def __init__(self, broken: list[BatchReconciliation]) -> None:
        lines = [f"{b.entity} batch {b.batch_id}: bronze {b.bronze_rows} != silver {b.silver_rows}"
                 f" + quarantine {b.quarantine_rows}" for b in broken]
        super().__init__("batches do not reconcile:\n  " + "\n  ".join(lines))
        self.broken = broken


def reconcile(warehouse: Warehouse, bronze: Mapping[str, str], pending: Mapping[str, Iterable[str]],
              lake_setup: Callable[[Any], None] | None = None) -> list[BatchReconciliation]:
    """Per entity and batch: bronze rows (from `bronze[entity]`, a Parquet glob) vs silver + quarantine.

    `pending`: entity name -> its batch ids. Unknown entities raise KeyError (the contract
    names every entity there is).
    """
    results: list[BatchReconciliation] = []
    wanted = {name: sorted(set(ids)) for name, ids in pending.items()}
    wanted = {name: ids for name, ids in wanted.items() if ids}
    if not wanted:
        return results
    import duckdb

    with duckdb.connect() as lake:
        if lake_setup:
            lake_setup(lake)  # s3:// lakes
        for name in ENTITIES:
            ids = wanted.pop(name, None)
            if not ids:
                continue
            entity = ENTITIES[name]
            counted = dict(lake.execute(
                "SELECT _batch_id, COUNT(*) FROM read_parquet(?) WHERE _batch_id IN (SELECT UNNEST(?)) GROUP BY 1",
                [bronze[name], ids]).fetchall())
            silver = warehouse.batch_counts(entity.silver_model, ids)
            quarantine = warehouse.batch_counts(entity.quarantine_model, ids)
            results += [BatchReconciliation(batch_id=b, bronze_rows=int(counted.get(b, 0)),
                                            silver_rows=silver.get(b, 0), quarantine_rows=quarantine.get(b, 0),
                                            entity=name) for b in ids]
    if wanted:
        raise KeyError(f"no entity contract for {', '.join(sorted(wanted))} (known: {', '.join(ENTITIES)})")
    return results


def assert_reconciled(results: Iterable[BatchReconciliation]) -> None:
    """Raise ReconciliationError when any batch lost or doubled rows."""
    broken = [result for result in results if not result.ok]
    if broken:
        raise ReconciliationError(broken)


def layer_counts(warehouse: Warehouse, raw_rows: int) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per layer (all batches so far) and quarantine rows by reason, after the models ran.

    The headline entity is always listed; another entity only once it has rows.
    """
    layers: dict[str, int] = {"raw": raw_rows}
    reasons: dict[str, int] = {}
    more_layers: dict[str, int] = {}
    more_reasons: dict[str, int] = {}
    for name, entity in ENTITIES.items():
        good = warehouse.row_count(entity.silver_model)
        bad = warehouse.row_count(entity.quarantine_model)
        if good is None or bad is None:
            continue
        by_reason = warehouse.value_counts(entity.quarantine_model, "reason")
        if name == HEADLINE:
            layers.update({"silver": good, "quarantine": bad})
            layers.update({f"gold {t.split('.', 1)[1]}": warehouse.row_count(t) or 0 for t in FACT_TABLES})
            reasons.update(by_reason)
            continue
        if good or bad:
            more_layers.update({f"silver {name}": good, f"quarantine {name}": bad})
        more_reasons.update({f"{name}: {reason}": n for reason, n in by_reason.items()})
    return {**layers, **more_layers}, {**reasons, **more_reasons}
