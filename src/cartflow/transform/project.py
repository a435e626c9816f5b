"""The SQLMesh project a run loads: the built-in models plus the cartflow project's own.

`<project>/models/**/*.sql`, `<project>/audits/**/*.sql` and `<project>/tests/**/*.yaml`
join the built-in `models/`, `audits/` and `tests/` in one SQLMesh project, so a project
model is part of the same DAG and plan, may select from any built-in model and may use
the built-in macros (a second SQLMesh path would get a loader, and macros, of its own).
The project is assembled from file symlinks in the work dir (`assemble`): SQLMesh keys
its caches by a file's path inside the project, so every file must sit inside one root.

Also here: what a project can get wrong before anything is written (a model that does
not parse, or reads a model that does not exist: the error names the file and line),
which models a run evaluates (those an enabled source can feed, and `--select`), and
which models are published (SQLMesh tags).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cartflow.entities import ENTITY_NAMES

PUBLISH_TAG = "publish"
"""Models tagged `tags (publish)` are exported to the lake by publish."""
PUBLISHED_SCHEMA = "gold"
"""A project model in this schema is published without a tag, like the built-in marts."""
BUILTIN_FOLDERS = ("models", "macros", "audits", "tests")
PROJECT_FOLDERS = {"models": (".sql",), "audits": (".sql",), "tests": (".yaml", ".yml")}
PROJECT_SUBDIR = "project"
"""Where the project's files sit inside each assembled folder (models/project/...)."""


class ProjectModelError(ValueError):
    """A project model cannot run; the message names its file and line and what to fix."""


def project_files(project_dir: Path | None) -> list[Path]:
    """The project's files that the plan depends on (for the plan-skip fingerprint)."""
    if project_dir is None:
        return []
    return sorted(p for folder, suffixes in PROJECT_FOLDERS.items() if (project_dir / folder).is_dir()
                  for p in (project_dir / folder).rglob("*") if p.is_file() and p.suffix in suffixes)


def assemble(builtin: Path, project_dir: Path, work_dir: Path) -> Path:
    """A SQLMesh project dir of file symlinks: every built-in file, and the project's under `project/`.

    Named by a hash of its layout, so a run never rewrites a tree another process is
    loading: adding or removing a file makes a new one; editing a file changes nothing
    here (the links point at it).
    """
    links: dict[str, Path] = {}
    for folder in BUILTIN_FOLDERS:
        for path in sorted((builtin / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                links[str(path.relative_to(builtin))] = path.resolve()
    for path in project_files(project_dir):
        folder, *rest = path.relative_to(project_dir).parts
        name = rest[-1]
        if folder == "tests" and not name.startswith("test"):
            rest[-1] = f"test_{name}"  # SQLMesh reads tests/**/test*.yaml
        links[str(Path(folder, PROJECT_SUBDIR, *rest))] = path.resolve()
    digest = hashlib.sha256("\n".join(f"{k}\0{v}" for k, v in sorted(links.items())).encode()).hexdigest()[:16]
    root = work_dir / digest
    if root.is_dir():
        return root
    staging = work_dir / f".{digest}.{os.getpid()}"
    for relative, target in links.items():
        link = staging / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    try:
        staging.rename(root)
    except OSError:  # another process assembled the same tree first
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return root


def real_paths(message: str, root: Path | None) -> str:
    """`message` with the assembled tree's link paths replaced by the files they point at."""
    if root is None:
        return message
    for link in sorted(root.rglob("*"), key=lambda p: -len(str(p))):
        if link.is_symlink() and str(link) in message:
            message = message.replace(str(link), str(link.resolve()))
    return message


def short(fqn: str) -> str:
    """'"warehouse"."gold"."fct_order"' -> 'gold.fct_order'."""
    parts = [part.strip('"') for part in fqn.split(".")]
    return ".".join(parts[-2:])


def project_models(context: Any, project_dir: Path | None) -> dict[str, Any]:
    """fqn -> model, for the models loaded from the project's own models/ folder."""
    if project_dir is None:
        return {}
    root = (project_dir / "models").resolve()
    return {fqn: m for fqn, m in context.models.items()
            if m._path is not None and Path(m._path).resolve().is_relative_to(root)}


def check_project_models(context: Any, project_dir: Path | None) -> None:
    """Every table a project model reads must be a model; raise naming the file and line otherwise.

    SQLMesh would take an unknown name for an external table and fail only while running,
    after other models were written.
    """
    known = set(context.models)
    for fqn, model in sorted(project_models(context, project_dir).items()):
        for dependency in sorted(model.depends_on - known):
            name = short(dependency)
            path = Path(model._path).resolve()
            raise ProjectModelError(
                f"{path}:{_line_of(path, name)}: model {short(fqn)} reads {name}, which is no model "
                f"(built-in models: silver.* and gold.*, e.g. gold.fct_order_line; `cartflow catalog` "
                "lists them)")


def _line_of(path: Path, name: str) -> int:
    """The first line of `path` that mentions `name` (schema.table, quoted or not), else 1."""
    schema, table = name.split(".", 1)
    pattern = re.compile(rf'"?{re.escape(schema)}"?\s*\.\s*"?{re.escape(table)}"?', re.IGNORECASE)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if pattern.search(line):
            return number
    return 1


def published_models(context: Any, project_dir: Path | None) -> list[str]:
    """'schema.table' of every model to publish: tagged `publish`, or a project model in gold."""
    ours = project_models(context, project_dir)
    names = [short(fqn) for fqn, m in context.models.items()
             if PUBLISH_TAG in {t.lower() for t in m.tags}
             or (fqn in ours and short(fqn).split(".")[0] == PUBLISHED_SCHEMA)]
    return sorted(names, key=lambda n: (n.split(".")[0] != PUBLISHED_SCHEMA, n))


def fed_models(context: Any, entities: Iterable[str] | None) -> set[str] | None:
    """fqns of the models a run evaluates when only `entities` have input; None: every model.

    A model is skipped when every bronze view it reads (directly or not) is that of an entity
    no enabled source feeds; a model reading no entity's bronze always runs.
    """
    if entities is None:
        return None
    dag = context.dag
    bronze = {fqn: short(fqn).split(".")[1] for fqn in context.models
              if short(fqn).split(".")[0] == "bronze" and short(fqn).split(".")[1] in ENTITY_NAMES}
    fed = set(entities)
    keep = set()
    for fqn in context.models:
        upstream = dag.upstream(fqn) | {fqn}
        feeding = {bronze[u] for u in upstream if u in bronze}
        if not feeding or feeding & fed:
            keep.add(fqn)
    return keep


def select(context: Any, selections: Iterable[str]) -> set[str]:
    """fqns for `--select` expressions: `schema.model` (or a glob), `model+` adds what is downstream."""
    dag = context.dag
    chosen: set[str] = set()
    for expression in selections:
        downstream = expression.endswith("+")
        pattern = expression.rstrip("+").strip().lower()
        matched = {fqn for fqn in context.models
                   if fnmatch.fnmatchcase(short(fqn), pattern) or short(fqn).split(".")[1] == pattern}
        if not matched:
            raise ProjectModelError(f"--select {expression}: no model matches (model names look like "
                                    "gold.mart_revenue_daily; `cartflow plan` lists them)")
        chosen |= matched
        if downstream:
            for fqn in matched:
                chosen |= set(dag.downstream(fqn))
    return chosen
