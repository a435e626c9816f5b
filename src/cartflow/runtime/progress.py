"""How a run reports progress: the CLI draws bars, tests and the scheduler stay quiet."""

from __future__ import annotations

from typing import Protocol


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
