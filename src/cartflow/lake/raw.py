"""The raw zone: the bytes exactly as received, addressed by content hash, never modified.

`raw/<source>/<entity>/ingest_date=YYYY-MM-DD/<batch_id>.<ext>` plus a manifest row.
Because the batch id is the content hash, landing the same bytes twice is one batch.

A file that could not be taken is recorded too: a manifest row with status `rejected`
and its reason (`rejection`, JSON), so the same bytes are not tried again every run and
`cartflow dlq list files` can show it. With `[lake] raw_retention =
"delete_after_standardize"` a batch's raw object is deleted once it reconciled in silver;
its manifest row stays (marked `raw_deleted_at`), so lineage and "landed once" still hold.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cartflow.lake.storage import Storage
from cartflow.runtime.state import Manifest, StateStore, utcnow
from cartflow.runtime.text import printable

HASH_CHARS = 32
_CHUNK = 8 * 1024 * 1024
#: a manifest in one of these states holds no landed content: the bytes may be taken (again)
NOT_LANDED = ("rejected", "retry")

log = logging.getLogger(__name__)


def batch_id_of_file(path: Path) -> str:
    """sha256 of the content, streamed so a multi-GB file never sits in memory."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()[:HASH_CHARS]


def batch_id_of_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:HASH_CHARS]


def raw_key(source: str, entity: str, batch_id: str, ext: str, when: datetime | None = None) -> str:
    day = (when or datetime.now(UTC)).strftime("%Y-%m-%d")
    return f"raw/{source}/{entity}/ingest_date={day}/{batch_id}.{ext.lstrip('.')}"


def land_file(storage: Storage, state: StateStore, *, source: str, entity: str, path: Path,
              run_id: str | None = None, watermark: str | None = None, name: str | None = None,
              batch_id: str | None = None) -> Manifest | None:
    """Copy one received file into raw; None when this exact content was landed before.

    `name` is the file's name within its source (default: the file name); `batch_id` its
    content hash when the caller computed it already. Content rejected before (or queued
    for a retry) is landed now: the row becomes an ordinary `landed` one.
    """
    batch_id = batch_id or batch_id_of_file(path)
    known = state.get_manifest(source, entity, batch_id)
    if known and known.status not in NOT_LANDED:
        return None
    key = raw_key(source, entity, batch_id, path.suffix or ".bin")
    if not storage.exists(key):
        storage.write_file(key, path)
    return _record(state, source, entity, batch_id, key, name or path.name, path.stat().st_size, run_id,
                   watermark, known=known)


def land_bytes(storage: Storage, state: StateStore, *, source: str, entity: str, data: bytes,
               name: str, ext: str, run_id: str | None = None, watermark: str | None = None,
               rows: int | None = None) -> Manifest | None:
    """Land bytes received over the wire (an API page, an extract, a stream batch)."""
    batch_id = batch_id_of_bytes(data)
    if state.get_manifest(source, entity, batch_id):
        return None
    key = raw_key(source, entity, batch_id, ext)
    if not storage.exists(key):
        storage.write_bytes(key, data)
    return _record(state, source, entity, batch_id, key, name, len(data), run_id, watermark, rows)


def _record(state: StateStore, source: str, entity: str, batch_id: str, key: str, name: str,
            size: int, run_id: str | None, watermark: str | None, rows: int | None = None,
            known: Manifest | None = None) -> Manifest:
    manifest = Manifest(source=source, entity=entity, batch_id=batch_id, raw_key=key, source_file=name,
                        bytes=size, rows=rows, extracted_at=utcnow(), watermark=watermark,
                        status="landed", run_id=run_id)
    if known is None:
        state.add_manifest(manifest)
    else:  # a rejected (or replayed) content, now taken
        state.update_manifest(source, entity, batch_id, raw_key=key, source_file=name, bytes=size,
                              extracted_at=manifest.extracted_at, status="landed", run_id=run_id, rejection=None)
    return manifest


# -- rejections ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rejection:
    """Why a file (or a landed batch) cannot be standardized at all."""

    code: str
    """empty_file | binary | compressed | wrong_extension | encoding | unreadable | missing_column |
    symlink | changed_after_landing"""
    message: str


def record_rejection(state: StateStore, *, source: str, entity: str, batch_id: str, name: str, size: int,
                     rejection: Rejection, run_id: str | None, where: str, location: str,
                     raw: str = "", **extra: Any) -> Manifest:
    """Record a refused file in the state store (status `rejected`), or refresh an earlier record.

    `where` says what holds the file: `path` (the source's own directory, left untouched),
    `inbox` (moved to `landing/<source>/rejected/`) or `bronze` (landed in raw, unreadable).
    `location` is its path or key there.
    """
    detail = {"code": rejection.code, "reason": printable(rejection.message), "file": printable(name),
              "where": where, "location": printable(location), "rejected_at": utcnow(), "run_id": run_id, **extra}
    manifest = Manifest(source=source, entity=entity, batch_id=batch_id, raw_key=raw, source_file=name,
                        bytes=size, rows=None, extracted_at=utcnow(), watermark=None, status="rejected",
                        run_id=run_id, rejection=json.dumps(detail))
    if not state.add_manifest(manifest):
        state.update_manifest(source, entity, batch_id, status="rejected", rejection=manifest.rejection,
                              source_file=name, raw_key=raw or (state.get_manifest(source, entity, batch_id)
                                                                or manifest).raw_key)
    log.warning("source %s: rejected %s (%s): %s", source, printable(name), rejection.code,
                printable(rejection.message), extra={"source": source, "file": printable(name),
                                                     "code": rejection.code})
    return manifest


def rejection_of(m: Manifest) -> dict[str, Any]:
    """The recorded reason of a rejected manifest ({} when it has none)."""
    try:
        return json.loads(m.rejection) if m.rejection else {}
    except ValueError:
        return {"reason": m.rejection}


def rejected_in_run(state: StateStore, run_id: str) -> list[Manifest]:
    """Files and batches this run rejected (each makes the run `partial`)."""
    return [m for m in state.manifests(status="rejected") if rejection_of(m).get("run_id") == run_id]


def landed_versions(state: StateStore, source: str) -> dict[str, Manifest]:
    """Each file name of a source whose content was landed, with that landing's manifest."""
    return {m.source_file: m for m in state.manifests(source=source) if m.status not in NOT_LANDED}


# -- retention -------------------------------------------------------------------------------
def delete_standardized_raw(storage: Storage, state: StateStore) -> tuple[int, list[str]]:
    """`raw_retention = "delete_after_standardize"`: delete the raw object of every batch that
    reconciled in silver (status `transformed`) and still has one; keep and mark its manifest.

    Returns (objects deleted, problems). A delete that fails is retried by the next run.
    """
    deleted, problems = 0, []
    for m in state.manifests(status="transformed"):
        if m.raw_deleted_at or not m.raw_key:
            continue
        try:
            storage.delete(m.raw_key)
        except Exception as exc:  # noqa: BLE001 - the batch is safe in silver; the next run tries again
            problems.append(f"could not delete raw {m.raw_key}: {type(exc).__name__}: {exc}")
            continue
        state.update_manifest(m.source, m.entity, m.batch_id, raw_deleted_at=utcnow())
        deleted += 1
    if deleted:
        log.info("raw retention: deleted %d raw object(s) of batches already in silver", deleted,
                 extra={"deleted": deleted})
    return deleted, problems


def raw_gone(m: Manifest) -> str | None:
    """Why this batch's raw bytes cannot be read again, or None when they are there."""
    if m.raw_deleted_at:
        return (f"the raw copy of batch {m.batch_id[:12]} ({printable(m.source_file)}, source {m.source}) was "
                f"deleted at {m.raw_deleted_at} by [lake] raw_retention = \"delete_after_standardize\"")
    return None
