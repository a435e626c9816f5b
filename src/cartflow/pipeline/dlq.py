"""`cartflow dlq`: every record that failed, listed, inspected and replayed after a fix (the SQS DLQ role).

Dead letters live in several places, each behind one small interface, `DlqProvider`:

* `quarantine` — order lines silver rejected (`silver.quarantine_order_lines`, read from
  its published Parquet). Replay re-runs them through silver with today's rules by a
  SQLMesh restatement, keeping each row's identity (batch, row): a row the fix now
  accepts moves from quarantine to silver, and a second replay changes nothing.
* `stream` — records the ingest API rejected (the stream's dead-letter log). Replay
  validates each again and appends the valid ones to the event log under their
  content-derived event id; a replayed record is not appended twice.
* `files` — files the landing inbox rejected (`<lake>/landing/<source>/rejected/`, each
  with a `.reason.json`). Replay, after the file or the config was fixed, moves them
  back into the inbox; the next run takes them, and a file's content is landed at most
  once (batch id = content hash).

`register()` adds a provider; the built-in ones are imported lazily by module path, so
a provider whose subsystem is not installed simply does not show.
"""

from __future__ import annotations

import builtins
import importlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from cartflow.config import Project
from cartflow.runtime.sqlite import connect
from cartflow.runtime.state import utcnow


class DlqError(Exception):
    """A DLQ command cannot proceed; the message says what to do."""


@dataclass
class DlqItem:
    provider: str
    id: str
    reason: str
    source: str
    at: str | None
    summary: str
    status: str = "pending"
    """pending | replayed | rejected_again — from the replay log."""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReplayResult:
    provider: str
    selected: int
    replayed: int = 0
    skipped: int = 0
    """Already replayed before (a replay is idempotent)."""
    failed: int = 0
    """Still rejected by today's rules."""
    run_id: str | None = None
    messages: list[str] = field(default_factory=list)


class DlqProvider(Protocol):
    name: str
    description: str

    def counts(self, project: Project) -> dict[str, int]:
        """Items per reason."""

    def list(self, project: Project, *, limit: int = 50, reason: str | None = None) -> list[DlqItem]: ...

    def show(self, project: Project, item_id: str) -> DlqItem | None: ...

    def replay(self, project: Project, ids: builtins.list[str] | None, *, reason: str | None = None,
               dry_run: bool = False) -> ReplayResult:
        """Replay the given items (None: every pending one, optionally of one reason); idempotent."""


_BUILTIN = {
    "quarantine": "cartflow.pipeline.dlq:QuarantineDlq",
    "stream": "cartflow.pipeline.dlq_providers:StreamDlq",
    "files": "cartflow.pipeline.dlq_providers:RejectedFilesDlq",
}
_REGISTRY: dict[str, Callable[[], DlqProvider]] = {}


def register(name: str, factory: Callable[[], DlqProvider]) -> None:
    """Plug a provider in (a new subsystem with its own dead letters)."""
    _REGISTRY[name] = factory


def providers() -> dict[str, DlqProvider]:
    """Every available provider, built-in first; a built-in whose module is absent is left out."""
    out: dict[str, DlqProvider] = {}
    for name, target in _BUILTIN.items():
        module, _, attr = target.partition(":")
        try:
            out[name] = getattr(importlib.import_module(module), attr)()
        except (ImportError, AttributeError):
            continue
    out.update({name: factory() for name, factory in _REGISTRY.items()})
    return out


def provider(name: str) -> DlqProvider:
    available = providers()
    if name not in available:
        raise DlqError(f"no dead-letter queue {name!r}: available are {', '.join(available)}")
    return available[name]


class ReplayLog:
    """What was replayed, when, by which run, and how it came out (`<state dir>/dlq.db`)."""

    def __init__(self, project: Project) -> None:
        path = project.state_path.parent / "dlq.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = connect(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS replays (provider TEXT NOT NULL, item_id TEXT NOT NULL, "
                         "replayed_at TEXT NOT NULL, outcome TEXT NOT NULL, run_id TEXT, note TEXT, "
                         "PRIMARY KEY (provider, item_id))")

    def get(self, provider: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                rows = self._db.execute(
                    f"SELECT item_id, replayed_at, outcome, run_id, note FROM replays WHERE provider=? AND item_id IN "
                    f"({','.join('?' * len(chunk))})", (provider, *chunk)).fetchall()
                out.update({r[0]: {"replayed_at": r[1], "outcome": r[2], "run_id": r[3], "note": r[4]} for r in rows})
        return out

    def record(self, provider: str, outcomes: dict[str, str], run_id: str | None = None,
               note: str | None = None) -> None:
        now = utcnow()
        with self._lock:
            self._db.executemany(
                "INSERT INTO replays VALUES (?,?,?,?,?,?) ON CONFLICT (provider, item_id) DO UPDATE SET "
                "replayed_at=excluded.replayed_at, outcome=excluded.outcome, run_id=excluded.run_id, "
                "note=excluded.note",
                [(provider, item, now, outcome, run_id, note) for item, outcome in outcomes.items()])

    def close(self) -> None:
        self._db.close()


def with_status(project: Project, provider_name: str, items: list[DlqItem]) -> list[DlqItem]:
    log = ReplayLog(project)
    try:
        done = log.get(provider_name, [i.id for i in items])
    finally:
        log.close()
    for item in items:
        if item.id in done:
            item.status = done[item.id]["outcome"]
            item.detail["replay"] = done[item.id]
    return items


# -- quarantine ---------------------------------------------------------------------------
QUARANTINE_TABLE = "quarantine_order_lines"
_Q_COLUMNS = ("_batch_id", "_source_row", "reason", "field", "raw_value", "invoice_no", "stock_code",
              "description", "quantity", "invoice_date", "unit_price", "customer_id", "country",
              "_source_file", "_ingested_at")


class QuarantineDlq:
    name = "quarantine"
    description = "order lines silver rejected, with reason (published silver.quarantine_order_lines)"

    def _query(self, project: Project, where: str = "", params: list[Any] | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
        from cartflow.lake.marts import published_tables
        from cartflow.lake.storage import open_lake
        from cartflow.serving.sql import connect

        storage = open_lake(project)
        if QUARANTINE_TABLE not in published_tables(storage):
            return []
        con = connect(storage)
        try:
            sql = (f"SELECT {', '.join(_Q_COLUMNS)} FROM {QUARANTINE_TABLE} {where} "
                   "ORDER BY _ingested_at DESC, _batch_id, _source_row" + (f" LIMIT {int(limit)}" if limit else ""))
            cur = con.execute(sql, params or [])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r, strict=False)) for r in cur.fetchall()]
        finally:
            con.close()

    def counts(self, project: Project) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self._query(project):
            counts[row["reason"]] = counts.get(row["reason"], 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def _item(self, row: dict[str, Any]) -> DlqItem:
        shown = ",".join("" if row[c] is None else str(row[c]) for c in _Q_COLUMNS[5:13])
        from cartflow.runtime.text import printable  # a quarantined row is a file's content: never raw bytes

        return DlqItem(self.name, f"{row['_batch_id']}:{row['_source_row']}", row["reason"], row["_source_file"],
                       str(row["_ingested_at"]) if row["_ingested_at"] else None,
                       printable(f"{row['field'] or '-'}={row['raw_value']!r} | {shown}"),
                       detail={k: (v if isinstance(v, (str, int, type(None))) else str(v)) for k, v in row.items()})

    def list(self, project: Project, *, limit: int = 50, reason: str | None = None) -> list[DlqItem]:
        where, params = ("WHERE reason LIKE ?", [f"{reason}%"]) if reason else ("", [])
        return with_status(project, self.name, [self._item(r) for r in self._query(project, where, params, limit)])

    def show(self, project: Project, item_id: str) -> DlqItem | None:
        batch, _, row = item_id.partition(":")
        if not row.isdigit():
            raise DlqError(f"quarantine item id {item_id!r}: expected <batch id>:<source row>, as `dlq list` shows")
        rows = self._query(project, "WHERE _batch_id LIKE ? AND _source_row = ?", [f"{batch}%", int(row)], 2)
        if len(rows) != 1:
            return None
        item = with_status(project, self.name, [self._item(rows[0])])[0]
        from cartflow.runtime.backends import open_state

        state = open_state(project)
        try:
            m = next((m for m in state.manifests() if m.batch_id == rows[0]["_batch_id"]), None)
        finally:
            state.close()
        if m:
            item.source = m.source
            item.detail["manifest"] = {"source": m.source, "raw_key": m.raw_key, "source_file": m.source_file,
                                       "extracted_at": m.extracted_at, "run_id": m.run_id,
                                       "raw_deleted_at": m.raw_deleted_at}
        return item

    def replay(self, project: Project, ids: builtins.list[str] | None, *, reason: str | None = None,
               dry_run: bool = False) -> ReplayResult:
        """Restate the batches holding the selected rows through silver with today's rules."""
        from cartflow.pipeline.backfill import Restatement
        from cartflow.pipeline.run import run_pipeline

        rows = self._select(project, ids, reason)
        result = ReplayResult(self.name, selected=len(rows))
        if not rows:
            result.messages.append("nothing to replay: no quarantined row matches")
            return result
        batches = sorted({r["_batch_id"] for r in rows})
        result.messages.append(f"{len(rows):,} row(s) in {len(batches)} batch(es) will be re-run through silver "
                               "with the current rules (a SQLMesh restatement)")
        if dry_run:
            return result
        run = run_pipeline(project, trigger="dlq-replay:quarantine",
                           restate=Restatement(batch_ids=tuple(batches), reason="dlq replay"))
        result.run_id = run.run_id
        if run.status == "failed":
            raise DlqError(f"the replay run {run.run_id} failed: {run.error}. Nothing was changed; "
                           f"see `cartflow runs {run.run_id}`")
        wanted = {f"{r['_batch_id']}:{r['_source_row']}" for r in rows}
        still = {f"{r['_batch_id']}:{r['_source_row']}" for r in self._query(
            project, "WHERE _batch_id IN (SELECT unnest(?))", [batches])} & wanted
        outcomes = {i: ("rejected_again" if i in still else "replayed") for i in wanted}
        log = ReplayLog(project)
        try:
            log.record(self.name, outcomes, run.run_id)
        finally:
            log.close()
        result.replayed = len(wanted) - len(still)
        result.failed = len(still)
        result.messages.append(f"{result.replayed:,} row(s) now pass and are in silver; {result.failed:,} still "
                               "rejected (fix the rule or the source, then replay again)")
        return result

    def _select(self, project: Project, ids: builtins.list[str] | None, reason: str | None) -> builtins.list[dict[str, Any]]:
        if not ids:
            where, params = ("WHERE reason LIKE ?", [f"{reason}%"]) if reason else ("", [])
            return self._query(project, where, params)
        rows = []
        for item_id in ids:
            batch, _, row = item_id.partition(":")
            found = self._query(project, "WHERE _batch_id LIKE ? AND _source_row = ?",
                                [f"{batch}%", int(row) if row.isdigit() else -1], 2)
            if len(found) != 1:
                raise DlqError(f"no single quarantined row {item_id!r}: `cartflow dlq list quarantine` shows the ids")
            rows += found
        return rows


def as_json(items: list[DlqItem]) -> str:
    return json.dumps([i.__dict__ for i in items], indent=2, default=str, ensure_ascii=False)


def replay_log_path(project: Project) -> Path:
    return project.state_path.parent / "dlq.db"
