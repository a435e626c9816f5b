"""`cartflow plan` and `cartflow test`: what a run would change, and the project's checks.

`plan_preview` builds the SQLMesh plan a run would apply and reads it without applying
it: the models added, changed (breaking: rebuilt from every batch; non-breaking:
downstream kept) or removed, the intervals to backfill, and which models a run evaluates
(those the enabled sources feed). `check_project` runs the SQLMesh unit tests (built-in
and `<project>/tests/*.yaml`) and every model's audits against the deployed tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cartflow.transform._console import CapturingConsole
from cartflow.transform.project import fed_models, project_models, real_paths, short
from cartflow.transform.runner import TransformError, TransformSettings, open_context

START = "2010-01-01"
"""The model defaults' start (runner.build_config): audits cover everything since."""


@dataclass(frozen=True)
class ModelChange:
    model: str
    change: str  # "added", "breaking", "non-breaking", "metadata", "indirect", "removed"
    origin: str  # "built-in" or "project"
    backfill: str = ""  # what the next run computes for it


@dataclass
class PlanPreview:
    changes: list[ModelChange] = field(default_factory=list)
    models: int = 0
    evaluated: list[str] | None = None
    """Models a run evaluates, when not all (entities without an enabled source are skipped)."""
    deployed: bool = True
    """False before the first run: every model is new."""


@dataclass
class CheckResult:
    tests_run: int = 0
    test_failures: list[str] = field(default_factory=list)
    audits_run: int = 0
    audit_failures: list[str] = field(default_factory=list)
    audits_skipped: str = ""
    """Why audits did not run (no deployed tables yet), if they did not."""
    audits_pending: list[str] = field(default_factory=list)
    """Models changed since the last run: their tables are not built yet, so their audits wait."""

    @property
    def ok(self) -> bool:
        return not self.test_failures and not self.audit_failures


def plan_preview(settings: TransformSettings) -> PlanPreview:
    """The plan a run would apply, read and discarded (nothing is written to the warehouse)."""
    with open_context(settings, CapturingConsole()) as context:
        ours = project_models(context, settings.project_dir)
        deployed = context.state_reader.get_environment("prod") is not None
        try:
            plan = context.plan_builder("prod", skip_tests=True, empty_backfill=True).build()
        except Exception as error:  # noqa: BLE001 - SQLMesh's error, with the model named
            raise TransformError(f"SQLMesh plan failed: {error}") from error
        origin = {short(fqn): ("project" if fqn in ours else "built-in") for fqn in context.models}
        direct = {short(s.name) for s in plan.directly_modified}
        changes: list[ModelChange] = []
        diff = plan.context_diff
        for snapshot in sorted(plan.new_snapshots, key=lambda s: s.name):
            name = short(snapshot.name)
            if snapshot.snapshot_id in diff.added:
                kind = "added"
            elif name in direct:
                kind = _category(snapshot)
            else:
                kind = "indirect " + _category(snapshot)
            changes.append(ModelChange(name, kind, origin.get(name, "built-in"), _backfill(snapshot, kind)))
        for removed in sorted(diff.removed_snapshots.values(), key=lambda s: s.name):
            changes.append(ModelChange(short(removed.name), "removed", "", "its table is dropped"))
        fed = fed_models(context, settings.entities)
        return PlanPreview(changes=changes, models=len(context.models),
                           evaluated=sorted(short(f) for f in fed) if fed is not None else None, deployed=deployed)


def _category(snapshot: Any) -> str:
    category = getattr(snapshot, "change_category", None)
    name = getattr(category, "name", "") or ""
    return {"BREAKING": "breaking", "NON_BREAKING": "non-breaking", "METADATA": "metadata",
            "FORWARD_ONLY": "forward-only", "INDIRECT_BREAKING": "breaking",
            "INDIRECT_NON_BREAKING": "non-breaking"}.get(name, "changed")


def _backfill(snapshot: Any, kind: str) -> str:
    """What the next run computes for a changed model (runner.transform: plan, then one run)."""
    if kind in ("metadata", "indirect metadata", "indirect non-breaking"):
        return "kept as is (no rebuild)"
    kind_name = snapshot.table_info.kind_name
    if kind_name is not None and kind_name.is_incremental:
        return "new table, filled from every batch so far"
    if kind_name is not None and kind_name.name == "VIEW":
        return "view replaced"
    return "computed in full on the next run"


def check_project(settings: TransformSettings) -> CheckResult:
    """SQLMesh unit tests (built-in and the project's), then every audit on the deployed tables."""
    result = CheckResult()
    with open_context(settings, CapturingConsole()) as context:
        tests = context.test()
        result.tests_run = tests.testsRun
        root = Path(context.path)
        result.test_failures = [real_paths(f"{test}: {_first_line(error)}", root)
                                for test, error in tests.failures + tests.errors]
        if context.state_reader.get_environment("prod") is None:
            result.audits_skipped = "no tables yet: audits run after the first `cartflow run`"
            return result
        end = datetime.now(UTC).strftime("%Y-%m-%d")
        for fqn, snapshot in sorted(context.snapshots.items()):
            if not snapshot.version:
                result.audits_pending.append(short(fqn))
                continue
            for audit in context.snapshot_evaluator.audit(snapshot=snapshot, start=START, end=end,
                                                          snapshots=context.snapshots):
                if audit.skipped:
                    continue
                result.audits_run += 1
                if audit.count:
                    result.audit_failures.append(f"{short(fqn)}: audit {audit.audit.name} found {audit.count} "
                                                 "row(s) that break it")
    return result


def _first_line(error: Any) -> str:
    """The assertion's own message (the first line after the traceback), not the diff table."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    message = next((line for line in lines if line.startswith(("AssertionError", "AssertionError:"))), None)
    return message or (lines[-1] if lines else str(error))
