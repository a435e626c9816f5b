"""Skip SQLMesh's plan when nothing it depends on has changed since the last applied one.

Why: a plan loads and diffs every model against the state even when nothing changed,
a fixed cost of seconds per pipeline run that dominates small incremental runs. The
fingerprint covers the project's files, the variables, the engine and SQLMesh's
version; a marker file next to the warehouse pairs it with the prod environment's plan
id, so a replaced or restored warehouse is planned again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path
from typing import Any

PLANNED_FOLDERS = ("models", "macros", "audits")


def project_fingerprint(project_dir: Path, variables: dict[str, Any], gateway: str,
                        extra_files: Iterable[Path] = ()) -> str:
    """Equal fingerprints mean a plan would change nothing; `extra_files`: the project's own."""
    digest = hashlib.sha256()
    sqlmesh_version = version("sqlmesh")  # = sqlmesh.__version__, without importing SQLMesh (~2 s)
    digest.update(json.dumps({"variables": variables, "gateway": gateway, "sqlmesh": sqlmesh_version},
                             sort_keys=True, default=str).encode())
    for folder in PLANNED_FOLDERS:
        for path in sorted((project_dir / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    for path in extra_files:
        digest.update(str(path.resolve()).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def deployed_fingerprint(context: Any, marker: Path) -> str | None:
    """The fingerprint recorded with the last applied plan, if prod still is that plan."""
    try:
        plan_id, fingerprint = marker.read_text().split()
    except (OSError, ValueError):
        return None
    environment = context.state_reader.get_environment("prod")
    if environment is None or environment.plan_id != plan_id:
        return None
    return fingerprint


def record_deployed(context: Any, marker: Path, fingerprint: str) -> None:
    """Remember `fingerprint` for the plan just applied to prod."""
    environment = context.state_reader.get_environment("prod")
    if environment is not None:
        marker.write_text(f"{environment.plan_id} {fingerprint}\n")
