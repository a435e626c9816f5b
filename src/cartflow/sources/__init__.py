"""Sources: where a row enters. One module per source kind; `extract` dispatches on kind.

Every extractor lands what it received in the raw zone (`cartflow.lake.raw`) and returns
how many new batches it landed. A batch already seen (same content hash) is not landed twice.

* `files` (`files.py`): CSV / JSON / NDJSON in a directory or glob, and the lake's landing inbox.
* `http` (`http.py`): a paginated REST JSON API; one batch per page.
* `postgres` (`postgres.py`): a table or query, full or incremental; one Parquet batch per extract.
"""

from __future__ import annotations

from typing import Any

from cartflow.config import FilesSource, HttpSource, PostgresSource, Project
from cartflow.lake.storage import Storage
from cartflow.runtime.progress import Reporter
from cartflow.runtime.state import StateStore
from cartflow.sources.errors import SourceError
from cartflow.sources.files import extract_files

__all__ = ["extract", "SourceError"]


def extract(project: Project, storage: Storage, state: StateStore, reporter: Reporter,
            name: str, source: Any, run_id: str) -> int:
    """Land every new batch of one source in raw; raise on failure (the run records it)."""
    if isinstance(source, FilesSource):
        return _extract_files(project, storage, state, reporter, name, source, run_id)
    if isinstance(source, HttpSource):
        from cartflow.sources.http import extract_http

        return extract_http(storage, state, reporter, name, source, run_id).landed
    if isinstance(source, PostgresSource):
        from cartflow.sources.postgres import extract_postgres

        return extract_postgres(storage, state, reporter, name, source, run_id).landed
    raise NotImplementedError(f"source {name!r}: kind {source.kind!r} has no extractor")


def _extract_files(project: Project, storage: Storage, state: StateStore, reporter: Reporter,
                   name: str, source: FilesSource, run_id: str) -> int:
    return extract_files(project, storage, state, reporter, name, source, run_id)
