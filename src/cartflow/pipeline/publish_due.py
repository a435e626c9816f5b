"""What the warehouse holds that is not published yet: a note that outlives a killed run.

A run changes the warehouse (the transform stage), then publishes it (marts, serving store).
Its batches are marked `transformed` as soon as they reconciled in silver, before publish. A
run killed (`kill -9`, OOM, power loss) or failed in between leaves gold ahead of the marts
and the serving store, and the next run finds no new batch, so without this note it would
publish nothing, ever: the marts stay stale (or missing) and the serving store never gets
those lines (found by the kill points, tests/test_chaos_kill.py).

So before the models change anything, the run writes down what will need publishing (the
batches it feeds through gold, possibly none: a changed model), and only a publish that
finished (marts and serving store) removes the note. A run that finds a note publishes, even
with nothing new, and refreshes the serving store for the noted batches beside its own.
Publishing is idempotent (each mart is replaced whole, serving rows are upserts), so
publishing twice is harmless; not publishing is what loses data.

The note lives beside the warehouse, like SQLMesh's plan fingerprint: it describes the
warehouse, and the run lock (one writer) guards both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from cartflow.config import Project
from cartflow.runtime.state import utcnow

__all__ = ["due_path", "owe", "owed", "settled"]


def due_path(project: Project) -> Path:
    warehouse = project.warehouse_path
    return warehouse.with_name(f".{warehouse.name}.publish-due.json")


def owed(project: Project) -> list[str] | None:
    """The batch ids owed a publish (possibly none), or None when everything was published."""
    try:
        note = json.loads(due_path(project).read_text())
    except FileNotFoundError:
        return None
    except ValueError:  # cannot be half-written (see `owe`); unreadable all the same: publish everything owed
        return []
    return sorted(set(note.get("batch_ids", [])))


def owe(project: Project, batch_ids: Iterable[str], run_id: str | None = None) -> None:
    """Note, before the warehouse changes, that a publish is owed (for these batches, and any noted before)."""
    path = due_path(project)
    ids = sorted(set(owed(project) or []) | set(batch_ids))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as out:
        json.dump({"batch_ids": ids, "noted_at": utcnow(), "run_id": run_id}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)  # a kill leaves the old note or the new one, never half of one


def settled(project: Project) -> None:
    """Everything noted was published (marts and serving store)."""
    due_path(project).unlink(missing_ok=True)
