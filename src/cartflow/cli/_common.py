"""What every command shares: the project option, loading the project, errors, logs and progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from cartflow.config import ConfigError, Project, load_project
from cartflow.console import BarReporter, console, err_console, table


ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="Project directory (holds cartflow.toml).")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="Output format: table, csv or json.")]
LogFormatOpt = Annotated[Optional[str], typer.Option(
    "--log-format", help="Logs on stderr: text, or json (JSON lines with the run id, no progress bars). "
                         "Default: \\[logging] format in cartflow.toml.")]


def fail(message: str, code: int = 1) -> NoReturn:
    from rich.markup import escape  # messages quote config sections like [sources.x]

    err_console.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def load(directory: Path) -> Project:
    try:
        return load_project(directory)
    except ConfigError as exc:
        fail(str(exc), 2)


def setup_logging(proj, log_format: Optional[str]) -> str:
    """Structured logs per [logging], the CLI flag winning; returns the format in force."""
    from cartflow.runtime.logs import setup_project_logging

    if log_format not in (None, "text", "json"):
        fail(f"--log-format {log_format!r}: allowed values are text, json", 2)
    fmt = log_format or proj.config.logging.format
    setup_project_logging(proj, fmt, quiet_console=True)
    return fmt


def reporter(fmt: str):
    """Progress bars for people (text logs); nothing but JSON lines on stderr for machines."""
    from contextlib import nullcontext

    from cartflow.runtime.progress import QuietReporter

    return BarReporter() if fmt == "text" else nullcontext(QuietReporter())


def print_result(result) -> None:
    from rich.markup import escape

    for w in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(w)}")
    if result.new_batches == 0 and result.status == "succeeded":
        console.print(f"run {result.run_id}: nothing new to process ({result.seconds:.2f}s)")
        return
    if result.layer_rows:
        console.print(table("Rows per layer", ["layer", "rows"],
                            [(k, f"{v:,}") for k, v in result.layer_rows.items()]))
    if result.quarantine:
        console.print(table("Quarantine by reason", ["reason", "rows"],
                            [(k, f"{v:,}") for k, v in result.quarantine.items()]))
    if getattr(result, "restated", None):
        r = result.restated
        console.print(f"restated {r['from'] or r['reason']}..{r['to'] or ''}: {len(r['batches'])} batch(es) selected; "
                      f"silver and gold rebuilt from all {r['rebuilt_from_batches']} batch(es)")
    colour = {"succeeded": "green", "partial": "yellow"}.get(result.status, "red")
    console.print(f"run {result.run_id}: [{colour}]{result.status}[/] — {result.new_batches} new batch(es) "
                  f"in {result.seconds:.1f}s ({', '.join(f'{k} {v:.1f}s' for k, v in result.stage_seconds.items())})")
    if result.error:
        err_console.print(f"[red]error:[/] {escape(result.error)}")
