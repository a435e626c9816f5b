"""Fresh directories for the demo and the examples, which start from an empty project each time.

Their `--dir` is replaced on every run. Replacing means deleting, so only a directory this
code made before (its cartflow.toml names the same project) or an empty one is removed; any
other directory is refused with a message, never deleted: `cartflow demo --dir .` in a
real project, or `--dir ~`, must not wipe it.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path


class NotOurs(Exception):
    """The directory holds something the demo or example did not make."""


def replace_project_dir(directory: Path, project_name: str) -> None:
    """Remove `directory` if it is empty or a previous project named `project_name`."""
    if not directory.exists():
        return
    if not directory.is_dir():
        raise NotOurs(f"{directory} is a file: pass another --dir")
    if any(directory.iterdir()) and _project_name(directory) != project_name:
        raise NotOurs(f"{directory} exists and is not a previous {project_name} project (its files would be "
                      "deleted): pass another --dir, or remove it yourself")
    shutil.rmtree(directory)


def _project_name(directory: Path) -> str | None:
    try:
        with (directory / "cartflow.toml").open("rb") as f:
            return tomllib.load(f).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        return None
