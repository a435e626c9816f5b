"""The project's models: `plan` (what a run would change) and `test` (SQLMesh unit tests and audits)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cartflow.cli._app import app
from cartflow.cli._common import ProjectOpt, fail, load
from cartflow.console import console

if TYPE_CHECKING:  # pragma: no cover
    from cartflow.config import Project
    from cartflow.transform.runner import TransformSettings


def _settings(proj: Project) -> TransformSettings:
    """The settings a run would use, with nothing written to the lake."""
    import dataclasses

    from cartflow.lake.storage import open_lake
    from cartflow.pipeline.standardize import transform_settings
    from cartflow.transform.inputs import fed_entities

    settings = transform_settings(proj, open_lake(proj), write=False)
    return dataclasses.replace(settings, entities=tuple(sorted(fed_entities(proj))))


@app.command()
def plan(project: ProjectOpt = Path(".")) -> None:
    """Show what the next run would change in the models (new, changed, removed; backfills), without applying it."""
    from cartflow.runtime.lock import LockHeld, RunLock
    from cartflow.transform.preview import plan_preview
    from cartflow.transform.runner import TransformError

    proj = load(project)
    try:
        with RunLock(proj.work_dir / "run.lock", "plan"):
            preview = plan_preview(_settings(proj))
    except LockHeld as exc:
        fail(str(exc), 3)
    except TransformError as exc:
        fail(str(exc), 1)
    say = lambda text: console.print(text, soft_wrap=True, highlight=False, markup=False)  # noqa: E731
    if not preview.deployed:
        ours = [c for c in preview.changes if c.origin == "project"]
        say(f"no models deployed yet: the first `cartflow run` creates all {preview.models} models, "
            f"{len(ours)} of them the project's:")
        for c in ours:
            say(f"  {c.change:<22} {c.model} (project)")
    elif preview.changes:
        say(f"The next run changes {len(preview.changes)} of {preview.models} models:")
        for c in preview.changes:
            say(f"  {c.change:<22} {c.model}" + (f" ({c.origin})" if c.origin == "project" else ""))
            if c.backfill:
                say(f"  {'':<22} {c.backfill}")
    else:
        say(f"no changes: the {preview.models} deployed models match the model files")
    if preview.evaluated is not None:
        skipped = preview.models - len(preview.evaluated)
        say(f"a run evaluates {len(preview.evaluated)} of {preview.models} models ({skipped} read only "
            "entities no source feeds)")


@app.command("test")
def test_models(project: ProjectOpt = Path(".")) -> None:
    """Run the SQLMesh unit tests (built-in and <project>/tests/*.yaml) and every model's audits."""
    from cartflow.runtime.lock import LockHeld, RunLock
    from cartflow.transform.preview import check_project
    from cartflow.transform.runner import TransformError

    proj = load(project)
    try:
        with RunLock(proj.work_dir / "run.lock", "test"):
            result = check_project(_settings(proj))
    except LockHeld as exc:
        fail(str(exc), 3)
    except TransformError as exc:
        fail(str(exc), 1)
    console.print(f"unit tests: {result.tests_run - len(result.test_failures)} of {result.tests_run} passed")
    for failure in result.test_failures:
        console.print(f"  FAIL {failure}", soft_wrap=True, highlight=False, markup=False)
    if result.audits_skipped:
        console.print(f"audits: {result.audits_skipped}")
    else:
        console.print(f"audits: {result.audits_run - len(result.audit_failures)} of {result.audits_run} passed")
    for failure in result.audit_failures:
        console.print(f"  FAIL {failure}", soft_wrap=True, highlight=False, markup=False)
    if result.audits_pending:
        console.print(f"changed since the last run, audited after the next `cartflow run`: "
                      f"{', '.join(result.audits_pending)}", soft_wrap=True, highlight=False, markup=False)
    if not result.ok:
        raise typer.Exit(1)
