"""The `cartflow` command line: a thin Typer app, each command calling one function."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from cartflow.config import ConfigError, load_project
from cartflow.console import BarReporter, console, err_console, table

app = typer.Typer(
    help="cartflow: ingest, standardize, model and serve e-commerce data — one laptop to S3, Kafka, Spark.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
generate_app = typer.Typer(help="Generate realistic sample data.", no_args_is_help=True)
app.add_typer(generate_app, name="generate")

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="Project directory (holds cartflow.toml).")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="Output format: table, csv or json.")]


def _fail(message: str, code: int = 1) -> None:
    err_console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


def _project(directory: Path):
    try:
        return load_project(directory)
    except ConfigError as exc:
        _fail(str(exc), 2)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
    name: Annotated[Optional[str], typer.Option(help="Project name (default: the directory name).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing cartflow.toml.")] = False,
) -> None:
    """Create DIR/cartflow.toml (commented) with an `online_retail` files source and a landing inbox."""
    from cartflow.scaffold import init_project

    try:
        path = init_project(directory, name=name, force=force)
    except FileExistsError as exc:
        _fail(str(exc))
    console.print(f"created {path}\ndrop CSV files into {directory / 'landing' / 'online_retail'} "
                  f"and run `cartflow run --project {directory}`")


@generate_app.command("online-retail")
def generate_online_retail(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the CSV file(s) into.")],
    scale: Annotated[float, typer.Option(help="1 = the real file's 541,909 rows; 0.01 to 50.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same bytes.")] = 42,
    split: Annotated[str, typer.Option(help="none: one file; daily: one file per day.")] = "none",
) -> None:
    """Write Kaggle-format Online Retail CSV (latin-1, CRLF, M/D/YYYY H:MM) with its real quirks."""
    from rich.progress import Progress

    from cartflow.sandbox.retail_generator import generate_online_retail as generate

    if not 0.01 <= scale <= 50:
        _fail(f"--scale {scale}: allowed range is 0.01 to 50")
    if split not in ("none", "daily"):
        _fail(f"--split {split!r}: allowed values are none, daily")
    t0 = time.perf_counter()
    with Progress(console=err_console) as progress:
        task = progress.add_task("generating", total=None)
        result = generate(out, scale=scale, seed=seed, split=split,  # type: ignore[arg-type]
                          progress=lambda done, total: progress.update(task, completed=done, total=total))
    console.print(f"wrote {result.rows:,} rows in {len(result.files)} file(s) to {out} "
                  f"in {time.perf_counter() - t0:.1f}s")


@app.command()
def run(project: ProjectOpt = Path(".")) -> None:
    """Run the pipeline: extract → bronze → silver → gold → publish, only for new batches."""
    from cartflow.pipeline.lock import LockHeld
    from cartflow.pipeline.run import run_pipeline

    proj = _project(project)
    try:
        with BarReporter() as reporter:
            result = run_pipeline(proj, reporter=reporter)
    except LockHeld as exc:
        _fail(str(exc), 3)
    _print_result(result)
    if result.status == "failed":
        raise typer.Exit(1)


def _print_result(result) -> None:
    for w in result.warnings:
        err_console.print(f"[yellow]warning:[/] {w}")
    if result.new_batches == 0 and result.status == "succeeded":
        console.print(f"run {result.run_id}: nothing new to process ({result.seconds:.2f}s)")
        return
    if result.layer_rows:
        console.print(table("Rows per layer", ["layer", "rows"],
                            [(k, f"{v:,}") for k, v in result.layer_rows.items()]))
    if result.quarantine:
        console.print(table("Quarantine by reason", ["reason", "rows"],
                            [(k, f"{v:,}") for k, v in result.quarantine.items()]))
    colour = {"succeeded": "green", "partial": "yellow"}.get(result.status, "red")
    console.print(f"run {result.run_id}: [{colour}]{result.status}[/] — {result.new_batches} new batch(es) "
                  f"in {result.seconds:.1f}s ({', '.join(f'{k} {v:.1f}s' for k, v in result.stage_seconds.items())})")
    if result.error:
        err_console.print(f"[red]error:[/] {result.error}")


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to create the demo project.")] = Path("demo"),
    scale: Annotated[float, typer.Option(help="Size of the generated Online Retail data (1 = 541,909 rows).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """Generate data into a fresh project, run it, and print the answers shops ask for."""
    from cartflow.demo import prepare_demo, run_demo

    console.print(f"[bold]cartflow demo[/]: generating Online Retail at scale {scale} into {directory}/")
    prepare_demo(directory, scale, seed)
    with BarReporter() as reporter:
        result, answers = run_demo(directory, reporter)
    _print_result(result)
    if result.status != "succeeded":
        raise typer.Exit(1)
    for title, (columns, rows) in answers.items():
        console.print(table(title, columns, rows))
    console.print(f"\nExplore further: cartflow sql --project {directory} \"SELECT * FROM mart_customer_rfm LIMIT 5\"")


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="SQL over the published tables, each by its bare name.")],
    project: ProjectOpt = Path("."),
    fmt: FormatOpt = "table",
) -> None:
    """Ad-hoc SQL over the published marts (the Athena role); never touches the warehouse."""
    from cartflow.pipeline.run import open_lake
    from cartflow.serving.sql import QueryError, query, to_csv, to_json

    if fmt not in ("table", "csv", "json"):
        _fail(f"--format {fmt!r}: allowed values are table, csv, json")
    try:
        columns, rows = query(open_lake(_project(project)), statement)
    except QueryError as exc:
        _fail(str(exc))
    if fmt == "csv":
        typer.echo(to_csv(columns, rows), nl=False)
    elif fmt == "json":
        typer.echo(to_json(columns, rows))
    else:
        console.print(table(f"{len(rows)} row(s)", columns, rows))


@app.command()
def status(project: ProjectOpt = Path(".")) -> None:
    """Last runs, rows per layer and quarantine by reason."""
    from cartflow.pipeline.run import open_state

    state = open_state(_project(project))
    runs = state.runs(limit=5)
    state.close()
    if not runs:
        console.print("no runs yet: drop files into the landing inbox and run `cartflow run`")
        return
    console.print(table("Last runs", ["run", "status", "trigger", "started", "seconds", "new batches", "error"],
                        [_run_row(r) for r in runs]))
    last = next((json.loads(r["stats"]) for r in runs if r["stats"] and json.loads(r["stats"]).get("layer_rows")), None)
    if last:
        console.print(table("Rows per layer", ["layer", "rows"], [(k, f"{v:,}") for k, v in last["layer_rows"].items()]))
        console.print(table("Quarantine by reason", ["reason", "rows"],
                            [(k, f"{v:,}") for k, v in last["quarantine"].items()]))


def _run_row(r: dict) -> tuple:
    stats = json.loads(r["stats"]) if r.get("stats") else {}
    secs = sum(stats.get("stage_seconds", {}).values()) if stats else None
    return (r["run_id"], r["status"], r["trigger"], r["started_at"][:19],
            f"{secs:.1f}" if secs is not None else "", stats.get("new_batches", ""), (r.get("error") or "")[:80])


@app.command()
def runs(
    run_id: Annotated[Optional[str], typer.Argument(help="Show one run's tasks (an id or its prefix).")] = None,
    project: ProjectOpt = Path("."),
    limit: Annotated[int, typer.Option(help="How many runs to list.")] = 20,
) -> None:
    """List runs, or show one run's tasks with status, timings, rows and errors."""
    from cartflow.pipeline.run import open_state

    state = open_state(_project(project))
    try:
        if run_id is None:
            console.print(table("Runs", ["run", "status", "trigger", "started", "seconds", "new batches", "error"],
                                [_run_row(r) for r in state.runs(limit=limit)]))
            return
        run = state.run(run_id)
        if run is None:
            _fail(f"no run {run_id!r}: `cartflow runs` lists them")
        console.print(f"run {run['run_id']}: {run['status']} ({run['trigger']}) "
                      f"{run['started_at']} → {run['finished_at'] or '…'}")
        if run["error"]:
            console.print(f"[red]error:[/] {run['error']}")
        console.print(table("Tasks", ["task", "status", "seconds", "rows", "attempts", "error"],
                            [(t["task"], t["status"], t["seconds"], t["rows"], t["attempts"], t["error"] or "")
                             for t in run["tasks"]]))
    finally:
        state.close()


if __name__ == "__main__":  # pragma: no cover
    app()
