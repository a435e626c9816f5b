"""Data-quality checks after reconcile: quarantine share, freshness, reconciliation breaks.

A breach does not fail the run (the rows are accounted for, and reconciliation breaks
already fail it); it raises an alert, so a person looks before the next one. Thresholds
come from `[quality]` in cartflow.toml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Iterable

from cartflow.config import Project, QualitySection
from cartflow.runtime.state import StateStore


@dataclass
class Breach:
    check: str
    """quarantine_share | freshness | reconciliation"""
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def quarantine_share(warehouse: Any, batch_ids: list[str], cfg: QualitySection) -> Breach | None:
    """Share of this run's new rows that went to quarantine, against `quarantine_max_share`."""
    if cfg.quarantine_max_share is None or not batch_ids:
        return None
    import duckdb  # here, not at the top: a run with nothing new never loads it

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        def counts(table: str) -> dict[str, int]:
            return dict(con.execute(f"SELECT _batch_id, count(*) FROM {table} WHERE _batch_id IN "
                                    "(SELECT unnest(?)) GROUP BY 1", [batch_ids]).fetchall())
        silver, quarantine = counts("silver.order_lines"), counts("silver.quarantine_order_lines")
        reasons = dict(con.execute("SELECT reason, count(*) FROM silver.quarantine_order_lines WHERE _batch_id IN "
                                   "(SELECT unnest(?)) GROUP BY 1 ORDER BY 2 DESC LIMIT 5", [batch_ids]).fetchall())
    finally:
        con.close()
    q, total = sum(quarantine.values()), sum(silver.values()) + sum(quarantine.values())
    if total == 0 or total < cfg.quarantine_min_rows:
        return None
    share = q / total
    if share <= cfg.quarantine_max_share:
        return None
    worst = sorted(((quarantine.get(b, 0) / max(1, silver.get(b, 0) + quarantine.get(b, 0)), b) for b in batch_ids),
                   reverse=True)[:3]
    return Breach("quarantine_share",
                  f"{q:,} of {total:,} new rows ({share:.1%}) went to quarantine, above the "
                  f"{cfg.quarantine_max_share:.1%} limit; top reasons: "
                  + ", ".join(f"{r} {n:,}" for r, n in reasons.items())
                  + ". Inspect with `cartflow dlq list quarantine`, fix the source or the rule, then "
                    "`cartflow dlq replay quarantine`.",
                  {"quarantine_rows": q, "rows": total, "share": round(share, 6),
                   "limit": cfg.quarantine_max_share, "reasons": reasons,
                   "worst_batches": {b: round(s, 6) for s, b in worst}})


def freshness(project: Project, state: StateStore, now: datetime | None = None) -> list[Breach]:
    """Each enabled source's newest data vs `freshness_max_hours` (by arrival or by invoice time)."""
    cfg = project.config.quality
    if cfg.freshness_max_hours is None:
        return []
    now = now or datetime.now(UTC)
    limit = timedelta(hours=cfg.freshness_max_hours)
    newest = _newest_event(project) if cfg.freshness_basis == "event" else _newest_arrival(project, state)
    breaches = []
    for source, when in newest.items():
        if when is not None and now - when <= limit:
            continue
        age = "no data received yet" if when is None else f"newest data is {_age(now - when)} old ({when.isoformat()})"
        breaches.append(Breach("freshness",
                               f"source {source!r}: {age}, above the {cfg.freshness_max_hours:g}h limit "
                               f"({cfg.freshness_basis}). Check that the feed still delivers.",
                               {"source": source, "newest": when.isoformat() if when else None,
                                "limit_hours": cfg.freshness_max_hours, "basis": cfg.freshness_basis}))
    return breaches


def _newest_arrival(project: Project, state: StateStore) -> dict[str, datetime | None]:
    newest: dict[str, datetime | None] = {n: None for n, s in project.config.sources.items() if s.enabled}
    for m in state.manifests():
        if m.source in newest:
            when = datetime.fromisoformat(m.extracted_at)
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            if newest[m.source] is None or when > newest[m.source]:  # type: ignore[operator]
                newest[m.source] = when
    return newest


def _newest_event(project: Project) -> dict[str, datetime | None]:
    """The newest invoice time in silver (one feed of order lines: reported as `order_lines`)."""
    if not project.warehouse_path.exists():
        return {"order_lines": None}
    import duckdb

    con = duckdb.connect(str(project.warehouse_path), read_only=True)
    try:
        value = con.execute("SELECT max(invoice_ts) FROM silver.order_lines").fetchone()[0]  # type: ignore[index]  # an aggregate returns one row
    except duckdb.Error:
        value = None
    finally:
        con.close()
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return {"order_lines": value}


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f}h"


def reconciliation_breach(error: BaseException) -> Breach:
    return Breach("reconciliation", f"rows were lost or doubled, the run stopped before publish: {error}",
                  {"error": str(error)})


def check_quality(project: Project, state: StateStore, batch_ids: Iterable[str],
                  now: datetime | None = None) -> list[Breach]:
    """All post-reconcile checks for a run that transformed `batch_ids`."""
    breaches: list[Breach] = []
    ids = sorted(set(batch_ids))
    if ids and project.warehouse_path.exists():
        b = quarantine_share(project.warehouse_path, ids, project.config.quality)
        if b:
            breaches.append(b)
    breaches += freshness(project, state, now)
    return breaches
