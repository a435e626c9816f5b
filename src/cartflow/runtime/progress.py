"""How a run reports progress: the CLI draws bars, tests and the scheduler stay quiet."""

from __future__ import annotations

from typing import Protocol

LABELS = ("extract", "bronze", "transform", "publish", "serving")
"""The short fixed labels a progress display shows, one per kind of stage."""
_ALIASES = {"silver": "transform", "gold": "transform", "restate": "transform", "sqlmesh": "transform"}


def stage_label(name: str) -> str:
    """A stage's fixed label from its name: `extract online_retail` -> `extract`,
    `silver + gold (SQLMesh)` and `restate … (SQLMesh)` -> `transform`, `serving store` -> `serving`.

    A stage's name starts with its kind; the rest (source, range, model) is detail for the log,
    so a bar keeps its width whatever the source is called.
    """
    first = (name.split() or ["stage"])[0].lower()
    return _ALIASES.get(first, first)[:9]


class Stage(Protocol):
    def advance(self, n: int = 1, detail: str | None = None) -> None: ...

    def done(self, detail: str | None = None) -> None: ...


class Reporter(Protocol):
    def stage(self, name: str, total: int | None = None) -> Stage: ...

    def message(self, text: str) -> None: ...


class _QuietStage:
    def advance(self, n: int = 1, detail: str | None = None) -> None:
        pass

    def done(self, detail: str | None = None) -> None:
        pass


class QuietReporter:
    """Reports nothing; the run's result and run history carry the facts."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def stage(self, name: str, total: int | None = None) -> Stage:
        return _QuietStage()

    def message(self, text: str) -> None:
        self.messages.append(text)
