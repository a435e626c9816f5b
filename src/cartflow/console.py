"""Terminal output: progress bars, tables that never cut an id or a number, hints, paging.

Every command prints its tables through `show` (or `table` for a renderable), so one set of
rules holds everywhere, in any terminal width (the project standard is 80 columns):

* an id, a number, an amount or a timestamp is never cut: its column keeps its full width
  (`no_wrap`, and `overflow="fold"` should rich ever squeeze it);
* when a table is too wide, whole low-value columns are dropped (and named under the table,
  with `--wide` to show them), free text wraps; a table that still cannot fit, such as a wide
  `cartflow sql` result, is shown one record per block (psql's expanded display);
* `--format csv|json` prints the same rows exactly, for scripts;
* long output is paged like `git` does (`$PAGER`, else `less -FRX`) when stdout is a terminal.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shlex
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Iterator, Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from cartflow.money import format_money, is_money, money_places
from cartflow.runtime.progress import stage_label
from cartflow.runtime.text import printable

console = Console()
err_console = Console(stderr=True)
log = logging.getLogger("cartflow.progress")

__all__ = ["console", "err_console", "Col", "Section", "FitTable", "table", "show", "print_table", "hint", "paged",
           "BarReporter", "format_money", "is_money", "records", "to_csv", "check_format"]

FORMATS = ("table", "csv", "json")
ID, COUNT, DELTA, NUMBER, MONEY, TIME, TEXT = "id", "count", "delta", "number", "money", "time", "text"
"""Column kinds. All but `text` are never cut; `count`, `delta` (+n) and `money` get thousands separators."""
WHOLE = frozenset({ID, COUNT, DELTA, NUMBER, MONEY, TIME})
RIGHT = frozenset({COUNT, DELTA, NUMBER, MONEY})

@dataclass(frozen=True)
class Col:
    """One column: its name (csv/json key), kind, and whether it may be dropped to fit."""

    name: str
    kind: str = "auto"
    """id, count, number, money, time, text; auto: guessed from the values (`cartflow sql`)."""
    drop: int = 0
    """0: always shown. Otherwise dropped whole when the table is too wide, the highest first."""
    header: str | None = None
    """Shown instead of `name` in the table (e.g. with the currency on a second line)."""
    min_width: int = 12
    """A text column wraps, but not narrower than this."""


def guess_kind(values: Sequence[Any]) -> str:
    """Numbers and timestamps are whole; so is a string without spaces (an id, a code, a key)."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in present):
        return NUMBER
    if present and all(isinstance(v, (date, datetime)) for v in present):
        return TIME
    if all(isinstance(v, str) and len(v) <= 40 and not any(ch.isspace() for ch in v) for v in present):
        return ID
    return TEXT


def cell(value: Any, kind: str, currency: str | None = None, places: int | None = None) -> str:
    if value is None:
        return ""
    if kind == MONEY and currency and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return format_money(value, currency, places)
    if kind in (COUNT, DELTA) and isinstance(value, int) and not isinstance(value, bool):
        return f"{value:+,}" if kind == DELTA else f"{value:,}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def plain(value: Any) -> Any:
    """A JSON-safe value that keeps its exact digits (DECIMAL as a string)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def resolve(columns: Sequence[Col | str], rows: Sequence[Sequence[Any]]) -> list[Col]:
    cols = [c if isinstance(c, Col) else Col(str(c)) for c in columns]
    return [replace(c, kind=guess_kind([r[i] for r in rows])) if c.kind == "auto" else c for i, c in enumerate(cols)]


@lru_cache(maxsize=64)
def _overhead(n: int) -> int:
    """Columns' padding and rules of a table with `n` columns, measured once from rich itself."""
    probe = _frame(None)
    for _ in range(n):
        probe.add_column("x")
    probe.add_row(*["x"] * n)
    measuring = Console(width=10_000)
    return Measurement.get(measuring, measuring.options, probe).maximum - n


def _frame(title: str | None) -> Table:
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                 padding=(0, 1, 0, 0), title_style="bold", header_style="bold")  # two spaces between columns


def header_pieces(text: str) -> list[str]:
    """`avg_order_value` -> `avg_`, `order_`, `value`: where a header may break (after `_` or a space)."""
    return [p for p in re.findall(r"[^_\s]*[_\s]?", text) if p]


def wrap_header(text: str, width: int) -> str:
    """Break a header at underscores and spaces to fit `width`; never inside a word, never cut."""
    lines: list[str] = []
    for line in text.split("\n"):
        current = ""
        for piece in header_pieces(line):
            if current and cell_len((current + piece).rstrip()) > width:
                lines.append(current.rstrip())
                current = piece
            else:
                current += piece
        lines.append(current.rstrip())
    return "\n".join(lines)


class FitTable:
    """A table that fits the width it is given without cutting an id or a number (see the module doc)."""

    def __init__(self, title: str | None, columns: Sequence[Col | str], rows: Sequence[Sequence[Any]], *,
                 currency: str | None = None, wide: bool = False) -> None:
        self.title, self.rows, self.currency, self.wide = title, [list(r) for r in rows], currency, wide
        self.cols = resolve(columns, self.rows)
        places = [money_places([r[i] for r in self.rows], currency) if c.kind == MONEY and currency else None
                  for i, c in enumerate(self.cols)]
        self.cells = [[cell(v, c.kind, currency, p) for v, c, p in zip(r, self.cols, places, strict=False)] for r in self.rows]
        self.hidden: list[str] = []

    def header(self, i: int) -> str:
        return self.cols[i].header or self.cols[i].name

    def content(self, i: int) -> int:
        return max([0] + [cell_len(line) for r in self.cells for line in r[i].split("\n")])

    def natural(self, i: int) -> int:
        return max([self.content(i)] + [cell_len(line) for line in self.header(i).split("\n")])

    def required(self, i: int) -> int:
        """The narrowest a column may be: whole values and whole header words; text wraps to min_width."""
        head = max(cell_len(p.rstrip()) for line in self.header(i).split("\n") for p in header_pieces(line) or [""])
        if self.cols[i].kind in WHOLE:
            return max(self.content(i), head, 1)
        return max(head, min(self.natural(i), self.cols[i].min_width), 1)

    def fit(self, width: int) -> tuple[list[int], dict[int, int], bool]:
        """The columns to show, the width of each whole one, and whether the table fits at all."""
        keep = list(range(len(self.cols)))
        if self.wide or sum(self.natural(i) for i in keep) + _overhead(len(keep)) <= width:
            return keep, {i: self.natural(i) for i in keep if self.cols[i].kind in WHOLE}, True
        while keep:
            need = sum(self.required(i) for i in keep) + _overhead(len(keep))
            if need <= width:
                widths, spare = {}, width - need
                for i in keep:  # spare room first unwraps the headers of whole columns; text takes the rest
                    if self.cols[i].kind in WHOLE:
                        grow = min(spare, self.natural(i) - self.required(i))
                        widths[i], spare = self.required(i) + grow, spare - grow
                return keep, widths, True
            droppable = [i for i in keep if self.cols[i].drop]
            if not droppable:
                break
            keep.remove(max(reversed(droppable), key=lambda i: self.cols[i].drop))
        return keep, {}, False

    def width(self) -> int:
        return sum(self.natural(i) for i in range(len(self.cols))) + _overhead(len(self.cols))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(options.max_width, 20), self.width() if self.wide else options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        keep, widths, fits = self.fit(options.max_width)
        self.hidden = [self.cols[i].name for i in range(len(self.cols)) if i not in keep]
        if not fits:
            self.hidden = []
            yield from self._records(options.max_width)
            return
        if self.title:  # above the table, not inside it: a title never squeezes or wraps the columns
            yield Text(self.title, style="bold")
        t = _frame(None)
        heads = {i: wrap_header(self.header(i), widths[i]) if i in widths else self.header(i) for i in keep}
        depth = max([h.count("\n") for h in heads.values()] + [0])
        for i in keep:
            c, w = self.cols[i], widths.get(i)
            t.add_column(Text("\n" * (depth - heads[i].count("\n")) + heads[i]),
                         justify="right" if c.kind in RIGHT else "left", no_wrap=w is not None, overflow="fold",
                         width=w, min_width=None if w else self.required(i))
        for r in self.cells:
            t.add_row(*[Text(r[i]) for i in keep])
        yield t
        if self.hidden:
            yield Text(f"(not shown at {options.max_width} columns: {', '.join(self.hidden)}; "
                       "--wide or --format json shows them)", style="dim")

    def _records(self, width: int) -> RenderResult:
        """One block per row, `column  value`, for results too wide for any table."""
        if self.title:
            yield Text(self.title, style="bold")
        label = max(cell_len(c.name) for c in self.cols)
        for n, r in enumerate(self.cells, 1):
            yield Text(f"-[ record {n} ]" + "-" * max(0, min(width, 40) - 14 - len(str(n))), style="dim")
            grid = Table.grid(Column(width=label, no_wrap=True, style="bold"),
                              Column(overflow="fold", justify="left"), padding=(0, 2))
            for c, v in zip(self.cols, r, strict=False):
                grid.add_row(Text(c.name), Text(v))
            yield grid


def table(title: str | None, columns: Sequence[Col | str], rows: Sequence[Sequence[Any]], *,
          currency: str | None = None, wide: bool = False) -> FitTable:
    """A renderable table (for `console.print`); `show` also prints csv or json."""
    return FitTable(title, columns, rows, currency=currency, wide=wide)


def print_table(t: FitTable, out: Console | None = None) -> list[str]:
    """Print one table; returns the names of the columns dropped to fit."""
    out = out or console
    if t.wide and t.width() > out.width:  # print(width=) is capped at the console's: widen it for this table
        saved = out.width
        out.width = t.width()
        try:
            out.print(t, crop=False)
        finally:
            out.width = saved
    else:
        out.print(t)
    return t.hidden


def records(columns: Sequence[Col | str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    names = [c.name if isinstance(c, Col) else str(c) for c in columns]
    return [{n: plain(v) for n, v in zip(names, r, strict=False)} for r in rows]


def to_csv(columns: Sequence[Col | str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.name if isinstance(c, Col) else str(c) for c in columns])
    w.writerows([[plain(v) for v in r] for r in rows])
    return buf.getvalue()


@dataclass
class Section:
    """One table of a command's output: `key` names it in JSON (and CSV section headers)."""

    key: str
    title: str | None
    columns: Sequence[Col | str]
    rows: Sequence[Sequence[Any]]


def show(sections: Section | Sequence[Section], fmt: str = "table", *, wide: bool = False,
         currency: str | None = None) -> list[str]:
    """Print tables as `fmt`; one section prints bare rows in csv/json, several print one object (json)
    or `# key` headed blocks (csv). Returns the columns dropped to fit (table format)."""
    many = not isinstance(sections, Section)
    parts: list[Section] = [sections] if isinstance(sections, Section) else list(sections)
    if fmt == "json":
        data = {s.key: records(s.columns, s.rows) for s in parts}
        sys.stdout.write(json.dumps(data if many else data[parts[0].key], indent=2, default=str,
                                    ensure_ascii=False) + "\n")
        return []
    if fmt == "csv":
        blocks = [(f"# {s.key}\n" if many else "") + to_csv(s.columns, s.rows) for s in parts]
        sys.stdout.write("\n".join(blocks))
        return []
    hidden: list[str] = []
    for s in parts:
        hidden += print_table(FitTable(s.title, s.columns, s.rows, currency=currency, wide=wide))
    return hidden


def check_format(fmt: str, allowed: Sequence[str] = FORMATS) -> str | None:
    """None when `fmt` is allowed, else the error to show."""
    return None if fmt in allowed else f"--format {fmt!r}: allowed values are {', '.join(allowed)}"


def hint(text: str, *commands: str, out: Console | None = None) -> None:
    """A sentence, then each command on a line of its own, never wrapped, so it can be copied whole."""
    out = out or console
    out.print(escape(text), highlight=False, soft_wrap=True)  # a path in it is never folded either
    for command in commands:
        out.print(Text("  " + command, style="bold"), soft_wrap=True, highlight=False)


def pager_command() -> list[str] | None:
    """`$CARTFLOW_PAGER`, else `$PAGER`, else `less -FRX` (as git does); empty or `cat`: no pager."""
    for var in ("CARTFLOW_PAGER", "PAGER"):
        if var in os.environ:
            cmd = os.environ[var].strip()
            return None if cmd in ("", "cat") else shlex.split(cmd)
    return ["less", "-FRX"]


@contextmanager
def paged(out: Console | None = None) -> Iterator[None]:
    """Page what the block prints when stdout is a terminal and it is taller than the screen; never
    when piped or redirected (scripts and tests see plain output)."""
    out = out or console
    cmd = pager_command()
    if cmd is None or not out.is_terminal or not sys.stdout.isatty():
        yield
        return
    with out.capture() as captured:
        yield
    text = captured.get()
    if text.count("\n") < out.height:
        sys.stdout.write(text)
        return
    try:
        subprocess.run(cmd, input=text.encode("utf-8", "replace"), check=False)
    except OSError:  # no such pager: print as is
        sys.stdout.write(text)
    except KeyboardInterrupt:
        pass


class _Bar:
    """One drawn bar per label; several stages of one kind (each source's extract) share it."""

    def __init__(self, progress: Progress, label: str) -> None:
        self.progress, self.label = progress, label
        self.task = progress.add_task(label, total=None)
        self.parts: list[list[Any]] = []  # [total | None, completed, finished]

    def refresh(self) -> None:
        completed = sum(p[1] for p in self.parts)
        if any(p[0] is None and not p[2] for p in self.parts) and self.progress.tasks[self.task].total is None:
            self.progress.update(self.task, completed=completed)
            return
        total = sum(p[0] if p[0] is not None else p[1] for p in self.parts)
        self.progress.update(self.task, total=max(total, completed), completed=completed)


class _BarStage:
    def __init__(self, bar: _Bar, name: str, total: int | None) -> None:
        self.bar, self.name = bar, name
        self.part: list[Any] = [total, 0, False]
        bar.parts.append(self.part)
        bar.refresh()

    def advance(self, n: int = 1, detail: str | None = None) -> None:
        self.part[1] += n
        if detail:  # often a file's name: escaped, so it cannot drive a terminal (runtime/text.py)
            log.info("%s: %s", self.name, printable(detail), extra={"stage": self.bar.label})
        self.bar.refresh()

    def done(self, detail: str | None = None) -> None:
        total = self.part[0]
        self.part[0] = total if total is not None else max(self.part[1], 1)
        self.part[1], self.part[2] = self.part[0], True
        if detail:
            log.info("%s: %s", self.name, printable(detail), extra={"stage": self.bar.label})
        self.bar.refresh()


class BarReporter:
    """One progress bar per stage on stderr, labelled with the stage's short fixed name (extract,
    bronze, transform, publish, serving); what each step did goes to the log, not the label."""

    def __init__(self) -> None:
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}", table_column=Column(width=9)),
                                 BarColumn(bar_width=36), MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=err_console, transient=False)
        self.bars: dict[str, _Bar] = {}

    def __enter__(self) -> BarReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def stage(self, name: str, total: int | None = None) -> _BarStage:
        label = stage_label(name)
        bar = self.bars.get(label) or self.bars.setdefault(label, _Bar(self.progress, label))
        return _BarStage(bar, name, total)

    def message(self, text: str) -> None:
        self.progress.console.print(Text(text, style="yellow"))
