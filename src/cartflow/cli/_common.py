"""What every command shares: the project option, loading the project, errors, logs and progress."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from cartflow.console import (
    COUNT,
    DELTA,
    TEXT,
    BarReporter,
    Col,
    Section,
    check_format,
    console,
    err_console,
    hint,
    show,
)

if TYPE_CHECKING:  # the config schema (pydantic, ~0.2 s) loads with the first project: --help needs none
    from contextlib import AbstractContextManager

    from cartflow.config import Project
    from cartflow.pipeline.lifecycle import RunResult
    from cartflow.runtime.progress import Reporter

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="Project directory (holds cartflow.toml).")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="Output format: table, csv or json.")]
WideOpt = Annotated[bool, typer.Option("--wide", help="Show every column, however wide (the terminal wraps).")]
LogFormatOpt = Annotated[str | None, typer.Option(
    "--log-format", help="Logs on stderr: text, or json (JSON lines with the run id, no progress bars). "
                         "Default: \\[logging] format in cartflow.toml.")]


def fail(message: str, code: int = 1, *commands: str) -> NoReturn:
    """`error: message` on stderr, unwrapped (the terminal wraps it, so a quoted command copies whole),
    then any command to run next on a line of its own."""
    from rich.markup import escape  # messages quote config sections like [sources.x]

    err_console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    for command in commands:
        hint_line(command)
    raise typer.Exit(code)


def hint_line(command: str) -> None:
    from rich.text import Text

    err_console.print(Text("  " + command, style="bold"), soft_wrap=True, highlight=False)


def valid_format(fmt: str, allowed: tuple[str, ...] = ("table", "csv", "json")) -> str:
    problem = check_format(fmt, allowed)
    if problem:
        fail(problem, 2)
    return fmt


def load(directory: Path) -> Project:
    from cartflow.config import ConfigError, load_project

    try:
        return load_project(directory)
    except ConfigError as exc:
        fail(str(exc), 2)


def project_arg(project: Project) -> str:
    """How to name the project in a command to copy: relative to here when that is shorter."""
    try:
        rel = os.path.relpath(project.root)
    except ValueError:
        return str(project.root)
    return rel if len(rel) < len(str(project.root)) else str(project.root)


def setup_logging(proj: Project, log_format: str | None) -> str:
    """Structured logs per [logging], the CLI flag winning; returns the format in force."""
    from cartflow.runtime.logs import setup_project_logging

    if log_format not in (None, "text", "json"):
        fail(f"--log-format {log_format!r}: allowed values are text, json", 2)
    fmt = log_format or proj.config.logging.format
    setup_project_logging(proj, fmt, quiet_console=True)
    return fmt


def reporter(fmt: str) -> AbstractContextManager[Reporter]:
    """Progress bars for people (text logs); nothing but JSON lines on stderr for machines."""
    from contextlib import nullcontext

    from cartflow.runtime.progress import QuietReporter

    return BarReporter() if fmt == "text" else nullcontext(QuietReporter())


def run_stats(run: dict[str, Any]) -> dict[str, Any]:
    return json.loads(run["stats"]) if run.get("stats") else {}


def previous_counts(state: Any, run_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per layer and quarantine by reason as they stood before `run_id` (all zero before the first run)."""
    seen = False
    for run in state.runs(limit=200):
        if run["run_id"] == run_id:
            seen = True
            continue
        stats = run_stats(run)
        if seen and stats.get("layer_rows"):
            return stats["layer_rows"], stats.get("quarantine") or {}
    return {}, {}


def count_sections(layer_rows: dict[str, int], quarantine: dict[str, int],
                   before: tuple[dict[str, int], dict[str, int]]) -> list[Section]:
    """Cumulative counts (every run so far) beside what the run changed."""
    def rows(now: dict[str, int], then: dict[str, int]) -> list[tuple[str, int, int]]:
        return [(k, v, v - then.get(k, 0)) for k, v in now.items()]

    return [Section("layer_rows", "Rows per layer (all runs so far)",
                    [Col("layer", TEXT), Col("total", COUNT), Col("this_run", DELTA, header="this run")],
                    rows(layer_rows, before[0])),
            Section("quarantine", "Quarantine by reason (all runs so far)",
                    [Col("reason", TEXT), Col("total", COUNT), Col("this_run", DELTA, header="this run")],
                    rows(quarantine, before[1]))]


def batches_by_source(project: Project, state: Any, batch_ids: list[str]) -> str:
    """`online_retail 1 file; storefront 3 streamed batch(es)`: where a run's batches came from."""
    wanted, counts = set(batch_ids), dict[str, int]()
    for m in state.manifests():
        if m.batch_id in wanted:
            counts[m.source] = counts.get(m.source, 0) + 1
    kinds = {n: ("file(s)" if getattr(s, "kind", "") == "files" else "batch(es)")
             for n, s in project.config.sources.items()}
    kinds.setdefault(project.config.stream.source, "streamed batch(es) from the ingest API")
    return "; ".join(f"{source} {n} {kinds.get(source, 'batch(es)')}" for source, n in counts.items())


def inbox_states(project: Project) -> list[tuple[str, str, int, int]]:
    """(shown path, format, files there, of which earlier runs took) per enabled files source directory."""
    from cartflow.config import FilesSource
    from cartflow.runtime.backends import open_state

    found, taken = [], dict[str, set[str]]()
    state = open_state(project)
    try:
        for m in state.manifests():
            taken.setdefault(m.source, set()).add(Path(m.source_file).name)
    finally:
        state.close()
    for name, source in project.config.sources.items():
        if not isinstance(source, FilesSource) or not source.enabled or "://" in source.path:
            continue
        path = project.resolve(source.path)
        if not path.is_dir():
            continue
        files = {p.name for p in path.iterdir() if p.is_file() and not p.name.startswith(".")}
        shown = os.path.relpath(path) if not os.path.relpath(path).startswith("../..") else str(path)
        found.append((shown.rstrip("/") + "/", source.format.upper(), len(files), len(files & taken.get(name, set()))))
    return found


def print_result(result: RunResult, project: Project | None = None) -> None:
    """The run's outcome: status, where its batches came from, and rows per layer beside what it added."""
    from rich.markup import escape

    for w in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(w)}")
    if result.new_batches == 0 and result.status == "succeeded" and not getattr(result, "models_ran", False):
        console.print(f"run {result.run_id}: nothing new to process ({result.seconds:.2f}s)")
        if project is not None:
            for shown, fmt, files, taken in inbox_states(project):
                if not files:
                    hint(f"{shown} is empty — drop {fmt} files there, then run:",
                         f"cartflow run --project {project_arg(project)}")
                elif taken == files:
                    console.print(f"{shown} holds only files taken by earlier runs (the same content is never "
                                  "taken twice)", highlight=False)
                # else: the extract step said why the others were left (not finished yet, rejected)
        return
    state = None
    if project is not None:
        from cartflow.runtime.backends import open_state

        state = open_state(project)
    try:
        before = previous_counts(state, result.run_id) if state is not None else ({}, {})
        sources = batches_by_source(project, state, result.batch_ids) if project and state is not None else ""
    finally:
        if state is not None:
            state.close()
    if result.layer_rows:
        sections = count_sections(result.layer_rows, result.quarantine, before)
        show([s for s in sections if s.rows])
    r = getattr(result, "restated", None)
    if r:
        console.print(f"restated {r['from'] or r['reason']}..{r['to'] or ''}: {len(r['batches'])} batch(es) selected; "
                      f"silver and gold rebuilt from all {r['rebuilt_from_batches']} batch(es)")
    colour = {"succeeded": "green", "partial": "yellow"}.get(result.status, "red")
    console.print(f"run {result.run_id}: [{colour}]{result.status}[/] — {result.new_batches} new batch(es) "
                  f"in {result.seconds:.1f}s" + (f" ({escape(sources)})" if sources else ""), highlight=False)
    if result.stage_seconds:
        console.print("stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.stage_seconds.items()),
                      style="dim", highlight=False)
    if result.error:
        err_console.print(f"[red]error:[/] {escape(result.error)}", soft_wrap=True)
