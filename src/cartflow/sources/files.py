"""The `files` source: CSV drops in a directory or matching a glob."""

from __future__ import annotations

import glob
from pathlib import Path

from cartflow.config import FilesSource, Project


class SourceError(Exception):
    """A source cannot be read; the message names the source and what to do."""


def discover(project: Project, name: str, source: FilesSource) -> list[Path]:
    """The files a `files` source currently offers, oldest name first (daily files sort by date)."""
    pattern = project.resolve(source.path)
    if pattern.is_dir():
        files = [p for p in pattern.iterdir() if p.is_file() and not p.name.startswith(".")]
    elif any(ch in str(pattern) for ch in "*?["):
        files = [Path(p) for p in glob.glob(str(pattern)) if Path(p).is_file()]
    elif pattern.is_file():
        files = [pattern]
    else:
        raise SourceError(
            f"source {name!r}: {pattern} does not exist: create it and drop files in, "
            f"or fix [sources.{name}] path in cartflow.toml"
        )
    return sorted(files, key=lambda p: p.name)
