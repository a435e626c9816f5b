"""Sources: where a row enters. One module per source kind; `extract` dispatches on kind.

Every extractor lands what it received in the raw zone (`cartflow.lake.raw`) and returns
how many new batches it landed. A batch already seen (same content hash) is not landed twice.
"""

from __future__ import annotations

from typing import Any

from cartflow.config import FilesSource, Project
from cartflow.lake.raw import land_file
from cartflow.lake.storage import Storage
from cartflow.pipeline.progress import Reporter
from cartflow.pipeline.state import SqliteState
from cartflow.sources.files import discover


def extract(project: Project, storage: Storage, state: SqliteState, reporter: Reporter,
            name: str, source: Any, run_id: str) -> int:
    """Land every new batch of one source in raw; raise on failure (the run records it)."""
    if isinstance(source, FilesSource):
        return _extract_files(project, storage, state, reporter, name, source, run_id)
    raise NotImplementedError(f"source {name!r}: kind {source.kind!r} has no extractor")


def _extract_files(project: Project, storage: Storage, state: SqliteState, reporter: Reporter,
                   name: str, source: FilesSource, run_id: str) -> int:
    files = discover(project, name, source)
    stage = reporter.stage(f"extract {name}", total=len(files))
    new = 0
    for path in files:
        if land_file(storage, state, source=name, entity=source.entity, path=path, run_id=run_id):
            new += 1
        stage.advance(detail=path.name)
    stage.done(f"{new} new file(s)")
    return new
