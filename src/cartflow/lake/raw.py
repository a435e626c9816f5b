"""The raw zone: the bytes exactly as received, addressed by content hash, never modified.

`raw/<source>/<entity>/ingest_date=YYYY-MM-DD/<batch_id>.<ext>` plus a manifest row.
Because the batch id is the content hash, landing the same bytes twice is one batch.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from cartflow.lake.storage import Storage
from cartflow.runtime.state import Manifest, SqliteState, utcnow

HASH_CHARS = 32
_CHUNK = 8 * 1024 * 1024


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
    day = (when or datetime.now(timezone.utc)).strftime("%Y-%m-%d")
    return f"raw/{source}/{entity}/ingest_date={day}/{batch_id}.{ext.lstrip('.')}"


def land_file(storage: Storage, state: SqliteState, *, source: str, entity: str, path: Path,
              run_id: str | None = None, watermark: str | None = None) -> Manifest | None:
    """Copy one received file into raw; None when this exact content was landed before."""
    batch_id = batch_id_of_file(path)
    if state.get_manifest(source, entity, batch_id):
        return None
    key = raw_key(source, entity, batch_id, path.suffix or ".bin")
    if not storage.exists(key):
        storage.write_file(key, path)
    return _record(state, source, entity, batch_id, key, path.name, path.stat().st_size, run_id, watermark)


def land_bytes(storage: Storage, state: SqliteState, *, source: str, entity: str, data: bytes,
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


def _record(state: SqliteState, source: str, entity: str, batch_id: str, key: str, name: str,
            size: int, run_id: str | None, watermark: str | None, rows: int | None = None) -> Manifest:
    manifest = Manifest(source=source, entity=entity, batch_id=batch_id, raw_key=key, source_file=name,
                        bytes=size, rows=rows, extracted_at=utcnow(), watermark=watermark,
                        status="landed", run_id=run_id)
    state.add_manifest(manifest)
    return manifest
