"""Create a project and run its pipeline: `init`, `run`, `demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cartflow.cli._app import app
from cartflow.cli._common import LogFormatOpt, ProjectOpt, fail, load, print_result, reporter, setup_logging
from cartflow.console import MONEY, BarReporter, Col, Section, console, err_console, hint, is_money, show


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Project name (default: the directory name).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing cartflow.toml.")] = False,
    example: Annotated[str | None, typer.Option(
        help="Create a ready-made example project instead: shopify (a Shopify orders export mapped "
             "onto order lines).")] = None,
) -> None:
    """Create DIR/cartflow.toml (commented) with an `online_retail` files source and a landing inbox."""
    from cartflow.scaffold import init_project

    try:
        path = init_project(directory, name=name, force=force, example=example)
    except (FileExistsError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    console.print(f"created {path}", highlight=False, soft_wrap=True)
    if example:
        hint(f"the {example} example: what it shows is in {directory / 'README.md'}; run it with:",
             f"cartflow run --project {directory}")
        return
    hint(f"drop CSV files into {directory / 'landing' / 'online_retail'}/, then run:",
         f"cartflow run --project {directory}")


@app.command()
def run(
    project: ProjectOpt = Path("."),
    date_from: Annotated[str | None, typer.Option(
        "--from", help="Backfill: restate order lines dated from this day (YYYY-MM-DD, inclusive) through "
                       "SQLMesh restatement; use with --to. Idempotent.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Backfill: last day to restate (inclusive).")] = None,
    select: Annotated[list[str] | None, typer.Option(
        "--select", "-s", help="Evaluate only these models (e.g. gold.mart_x, or mart_x+ with what is "
                               "downstream); repeatable.")] = None,
    full_refresh: Annotated[bool, typer.Option(
        "--full-refresh", help="Rebuild the selected models (all without --select) from every batch so far.")] = False,
    log_format: LogFormatOpt = None,
) -> None:
    """Run the pipeline: extract → bronze → silver → gold → quality → publish, only for new batches.

    With --from/--to, also restate that date range (see docs/operations.md: SQLMesh rebuilds the
    unique-key models in full, so the cost grows with the history, not the range).

    Exit codes: 0 succeeded or partial, 1 failed, 2 bad arguments/config, 3 another run holds the lock,
    130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM (the run is recorded `interrupted`).
    """
    from cartflow.pipeline.backfill import BackfillError, parse_range
    from cartflow.pipeline.run import run_pipeline
    from cartflow.runtime.lock import LockHeld
    from cartflow.runtime.signals import Interrupted, signals_interrupt

    proj = load(project)
    fmt = setup_logging(proj, log_format)
    try:
        restate = parse_range(date_from, date_to)
    except BackfillError as exc:
        fail(str(exc), 2)
    try:
        with signals_interrupt(), reporter(fmt) as bars:
            result = run_pipeline(proj, reporter=bars, restate=restate, select=tuple(select or ()),
                                  full_refresh=full_refresh)
    except LockHeld as exc:
        fail(str(exc), 3)
    except Interrupted as exc:
        where = f" during stage {exc.stage}" if exc.stage else ""
        err_console.print(f"interrupted ({exc.signal_name}){where}: run {exc.run_id or '-'} recorded as "
                          "interrupted, lock released; `cartflow run` again takes its batches", soft_wrap=True)
        raise typer.Exit(exc.exit_code) from exc
    print_result(result, proj)
    if result.status == "failed":
        raise typer.Exit(1)


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to create the demo project: ./demo (the "
                                             "checkout's git-ignored demo/ for `make demo`); replaced on each run, "
                                             "refused if it holds anything else.")] = Path("demo"),
    scale: Annotated[float, typer.Option(help="Size of the generated Online Retail data (1 = 541,909 rows).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """Generate data into a fresh project, run it, and print the answers shops ask for."""
    from cartflow.demo import DEMO_NAME, prepare_demo, run_demo
    from cartflow.sandbox.workdir import NotOurs, replace_project_dir

    try:
        replace_project_dir(directory, DEMO_NAME)
    except NotOurs as exc:
        fail(str(exc))
    console.print(f"[bold]cartflow demo[/]: generating Online Retail at scale {scale} into {directory}/")
    prepare_demo(directory, scale, seed)
    with BarReporter() as reporter:
        result, answers = run_demo(directory, reporter)
    print_result(result, load(directory))
    if result.status != "succeeded":
        raise typer.Exit(1)
    for title, (columns, rows) in answers.items():  # amounts (DECIMAL(18,3)) read as money
        # the "Multi-source: ..." answers come from the demo's second project, with its own currency
        part = directory / "multi-source" if title.startswith("Multi-source:") else directory
        currency = load(part).config.currency.base if (part / "cartflow.toml").exists() else "GBP"
        cols = [Col(c, MONEY, header=f"{c}\n{currency}") if is_money([r[i] for r in rows]) else Col(c)
                for i, c in enumerate(columns)]
        show(Section(title, title, cols, rows), currency=currency)
    console.print()
    hint("Explore further:", f"cartflow sql --project {directory} \"SELECT * FROM mart_customer_rfm LIMIT 5\"")
