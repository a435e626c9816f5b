"""Terminal output: progress bars per stage and result tables (rich)."""

from __future__ import annotations

from typing import Any, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


class _BarStage:
    def __init__(self, progress: Progress, name: str, total: int | None) -> None:
        self.progress, self.name = progress, name
        self.task = progress.add_task(name, total=total)

    def advance(self, n: int = 1, detail: str | None = None) -> None:
        label = f"{self.name} [dim]{detail}[/]" if detail else self.name
        self.progress.update(self.task, advance=n, description=label)

    def done(self, detail: str | None = None) -> None:
        task = self.progress.tasks[self.task]
        total = task.total if task.total is not None else max(task.completed, 1)
        label = f"{self.name} [dim]{detail}[/]" if detail else self.name
        self.progress.update(self.task, total=total, completed=total, description=label)


class BarReporter:
    """Draws one progress bar per stage on stderr (quiet when not a terminal)."""

    def __init__(self) -> None:
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                                 transient=False)

    def __enter__(self) -> "BarReporter":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def stage(self, name: str, total: int | None = None) -> _BarStage:
        return _BarStage(self.progress, name, total)

    def message(self, text: str) -> None:
        self.progress.console.print(f"[yellow]{text}[/]")


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(str(c))
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    return t
