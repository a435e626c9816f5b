"""Look at what a project holds: `sql`, `status`, `runs`, `catalog`, `report`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from cartflow.cli._app import app
from cartflow.cli._common import (
    FormatOpt,
    ProjectOpt,
    WideOpt,
    count_sections,
    fail,
    load,
    previous_counts,
    project_arg,
    run_stats,
    valid_format,
)
from cartflow.console import (
    COUNT,
    ID,
    MONEY,
    NUMBER,
    TEXT,
    TIME,
    Col,
    Section,
    console,
    err_console,
    hint,
    is_money,
    paged,
    records,
    show,
)

if TYPE_CHECKING:
    from cartflow.config import Project
    from cartflow.lake.storage import Storage


MoneyOpt = Annotated[bool, typer.Option(
    "--money", help="Show amounts (DECIMAL with 3 places, as cartflow stores money) in the project's currency: "
                    "2 decimals for GBP, thousands separators. Table only; csv/json stay exact.")]


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="SQL over the published tables, each by its bare name.")],
    project: ProjectOpt = Path("."),
    fmt: FormatOpt = "table",
    unsafe: Annotated[bool, typer.Option(
        "--unsafe", help="Also run statements that write or reach outside the marts (COPY, ATTACH, CREATE, SET, "
                         "INSTALL, reading other files). Off: read-only.")] = False,
    money: MoneyOpt = False,
    wide: WideOpt = False,
) -> None:
    """Ad-hoc, read-only SQL over the published marts (the Athena role); never touches the warehouse.

    Values are shown exactly as stored (DECIMAL(18,3) amounts keep their 3 places) unless --money.
    """
    from cartflow.lake.s3 import LakeAccessError
    from cartflow.lake.storage import open_lake
    from cartflow.serving.sql import QueryError, RefusedStatement, query

    valid_format(fmt)
    proj = load(project)
    try:
        storage = open_lake(proj)
        columns, rows = query(storage, statement, unsafe=unsafe)
    except RefusedStatement as exc:
        fail(str(exc))
    except QueryError as exc:
        fail(query_problem(proj, storage, str(exc)))
    except LakeAccessError as exc:
        fail(str(exc))
    currency = proj.config.currency.base
    cols = [Col(c, MONEY, header=f"{c}\n{currency}") if money and is_money([r[i] for r in rows]) else Col(c)
            for i, c in enumerate(columns)]
    with paged():
        show(Section("rows", f"{len(rows):,} row(s)", cols, rows), fmt, wide=wide, currency=currency)


def query_problem(proj: Project, storage: Storage, message: str) -> str:
    """DuckDB's error, without its guesses from its own catalog (`pg_prepared_statements`), and what can
    be queried: the published tables, or why there are none yet."""
    from cartflow.lake.marts import published_tables

    error = message.split("\nTables you can query:")[0]
    try:
        tables = sorted(published_tables(storage))
    except Exception:  # noqa: BLE001 - the query's own error is what matters; keep what DuckDB said
        return message
    lines = [line for line in error.splitlines()
             if not (line.startswith("Did you mean") and not any(f'"{t}"' in line for t in tables))]
    if tables:
        return "\n".join(lines) + f"\nTables you can query: {', '.join(tables)}"
    return "\n".join(lines) + "\n" + nothing_published(proj)


def nothing_published(proj: Project) -> str:
    """Why no table is published yet, from the run history."""
    from cartflow.runtime.backends import open_state

    state = open_state(proj)
    try:
        runs = state.runs(limit=1)
    finally:
        state.close()
    if not runs:
        return "No table is published yet: no run so far. Drop files into the landing folder and run `cartflow run`."
    last = runs[0]
    if last["status"] in ("succeeded", "partial"):
        return (f"No table is published yet: the last run ({last['run_id']}, {last['status']}) found no new "
                "data, so it published nothing. Drop files into the landing folder and run `cartflow run` again.")
    return (f"No table is published yet: the last run ({last['run_id']}) {last['status']}; "
            f"`cartflow runs {last['run_id']}` says why.")


RUN_COLUMNS = [Col("run_id", ID, header="run"), Col("status", ID), Col("started", TIME),
               Col("seconds", NUMBER), Col("new_batches", COUNT, header="batches"),
               Col("trigger", TEXT, drop=2, min_width=10), Col("error", TEXT, drop=1, min_width=24)]


def run_row(r: dict) -> tuple:
    stats = run_stats(r)
    secs = sum(stats.get("stage_seconds", {}).values()) if stats else None
    return (r["run_id"], r["status"], r["started_at"][:19].replace("T", " "),
            round(secs, 1) if secs is not None else None, stats.get("new_batches"), r["trigger"],
            r.get("error") or None)


def print_runs(title: str, runs: list[dict], fmt: str, wide: bool, extra: list[Section] | None = None) -> None:
    """The runs table, with the errors the table had no room for printed in full below it."""
    table = Section("runs", title, RUN_COLUMNS, [run_row(r) for r in runs])
    hidden = show([table, *extra] if extra else table, fmt, wide=wide)
    if "error" in hidden:
        for r in runs:
            if r.get("error"):
                console.print(f"[red]error[/] in run {r['run_id']}: {escape(r['error'])}", soft_wrap=True, highlight=False)


@app.command()
def status(project: ProjectOpt = Path("."), fmt: FormatOpt = "table", wide: WideOpt = False) -> None:
    """Last runs, rows per layer (all runs so far, beside what the last run added) and quarantine by reason."""
    from cartflow.runtime.backends import open_state

    valid_format(fmt)
    proj = load(project)
    state = open_state(proj)
    try:
        runs = state.runs(limit=5)
        last = next((r for r in runs if run_stats(r).get("layer_rows")), None)
        before = previous_counts(state, last["run_id"]) if last else ({}, {})
    finally:
        state.close()
    if not runs and fmt == "table":
        hint("no runs yet: drop files into the landing folder, then run:", f"cartflow run --project {project_arg(proj)}")
        return
    counts = count_sections(run_stats(last)["layer_rows"], run_stats(last).get("quarantine") or {}, before) \
        if last else [Section("layer_rows", None, [], []), Section("quarantine", None, [], [])]
    if last and fmt == "table":
        counts[0].title = f"Rows per layer (all runs so far; this run: {last['run_id']})"
    with paged():
        print_runs("Last runs", runs, fmt, wide, extra=[s for s in counts if s.rows or fmt != "table"])


@app.command()
def runs(
    run_id: Annotated[str | None, typer.Argument(
        help="Show one run's tasks (an id or its prefix); `runs show ID` works too.")] = None,
    show_id: Annotated[str | None, typer.Argument(help="The run id, after `show`.", show_default=False)] = None,
    project: ProjectOpt = Path("."),
    limit: Annotated[int, typer.Option(help="How many runs to list.")] = 20,
    fmt: FormatOpt = "table",
    wide: WideOpt = False,
) -> None:
    """List runs, or show one run's tasks with status, timings, rows, attempts and errors."""
    from cartflow.runtime.backends import open_state

    valid_format(fmt)
    if run_id == "show":
        if not show_id:
            fail("`cartflow runs show ID`: give the run id (or a prefix); `cartflow runs` lists them", 2)
        run_id = show_id
    proj = load(project)
    state = open_state(proj)
    try:
        if run_id is None:
            with paged():
                print_runs("Runs", state.runs(limit=limit), fmt, wide)
            return
        matches = [r for r in state.runs(limit=1_000_000) if r["run_id"].startswith(run_id)]
        if len(matches) > 1 and not any(r["run_id"] == run_id for r in matches):
            err_console.print(f"[red]error:[/] {len(matches):,} runs start with {escape(run_id)!r}; "
                              "give more of the id:", soft_wrap=True)
            print_runs("Matching runs", matches, fmt, wide)
            raise typer.Exit(2)
        run = state.run(matches[0]["run_id"]) if matches else None
        if run is None:
            fail(f"no run {run_id!r}", 1, f"cartflow runs --project {project_arg(proj)}")
        show_run(run, fmt, wide)
    finally:
        state.close()


TASK_COLUMNS = [Col("task", ID), Col("status", ID), Col("seconds", NUMBER), Col("rows", COUNT),
                Col("attempts", COUNT), Col("error", TEXT, drop=1, min_width=24)]


def show_run(run: dict, fmt: str, wide: bool) -> None:
    tasks = [(t["task"], t["status"], t["seconds"], t["rows"], t["attempts"], t["error"] or None)
             for t in run["tasks"]]
    if fmt != "table":
        info = {k: run.get(k) for k in ("run_id", "status", "trigger", "started_at", "finished_at", "error")}
        if fmt == "json":
            typer.echo(json.dumps({**info, "stats": run_stats(run), "tasks": records(TASK_COLUMNS, tasks)},
                                  indent=2, default=str))
        else:
            show(Section("tasks", None, TASK_COLUMNS, tasks), "csv")
        return
    with paged():
        console.print(f"run {run['run_id']}: {run['status']} ({escape(run['trigger'])})", highlight=False)
        console.print(f"  {run['started_at']} → {run['finished_at'] or '…'}", highlight=False)
        if run["error"]:
            console.print(f"[red]error:[/] {escape(run['error'])}", soft_wrap=True)
        hidden = show(Section("tasks", "Tasks", TASK_COLUMNS, tasks), "table", wide=wide)
        if "error" in hidden:
            for t in run["tasks"]:
                if t["error"]:
                    console.print(f"[red]error[/] in {t['task']}: {escape(t['error'])}", soft_wrap=True, highlight=False)
        stats = run_stats(run)
        for w in stats.get("warnings", []):
            console.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)
        if stats.get("restated"):
            r = stats["restated"]
            console.print(f"restated {r.get('from') or r.get('reason')}..{r.get('to') or ''}: "
                          f"{len(r.get('batches', []))} batch(es); rebuilt from {r.get('rebuilt_from_batches')}")


@app.command()
def catalog(
    project: ProjectOpt = Path("."),
    fmt: FormatOpt = "table",
    ddl: Annotated[str | None, typer.Option("--ddl", help="Print DDL for the published marts: athena or trino.")] = None,
    database: Annotated[str | None, typer.Option(help="Database/schema for --ddl (default: the project name).")] = None,
    trino_catalog: Annotated[str, typer.Option("--trino-catalog", help="Trino catalog (Hive connector) for --ddl trino.")] = "hive",
    location: Annotated[str | None, typer.Option(help="For --ddl: the lake root the engine reads (a copied lake), e.g. s3://bucket/prefix.")] = None,
    wide: WideOpt = False,
) -> None:
    """Every table in every layer (schema, partitions, rows, location); --ddl for Athena/Trino."""
    from cartflow.lake.s3 import LakeAccessError
    from cartflow.lake.storage import open_lake
    from cartflow.publish.catalog import build_catalog, database_name
    from cartflow.publish.catalog import ddl as make_ddl
    from cartflow.publish.ddl import DIALECTS, DdlError
    from cartflow.runtime.backends import open_state

    if ddl is not None and ddl not in DIALECTS:
        fail(f"--ddl {ddl!r}: allowed values are {', '.join(DIALECTS)}")
    valid_format(fmt)
    proj = load(project)
    state = open_state(proj)
    try:
        tables = build_catalog(proj, open_lake(proj), state)
    except LakeAccessError as exc:
        fail(str(exc))
    finally:
        state.close()
    if ddl is not None:
        if not any(t.layer == "published" for t in tables):
            fail("no published marts yet: run `cartflow run` first")
        try:
            typer.echo(make_ddl(tables, ddl, database or database_name(proj), catalog=trino_catalog,  # type: ignore[arg-type]
                                location=location), nl=False)
        except DdlError as exc:
            fail(str(exc))
        return
    if fmt == "json":
        typer.echo(json.dumps([t.as_dict() for t in tables], indent=2))
        return
    if not tables and fmt == "table":
        hint("the catalog is empty: drop files into the landing folder, then run:",
             f"cartflow run --project {project_arg(proj)}")
        return
    cols = [Col("layer", ID), Col("table", ID), Col("rows", COUNT), Col("partitions", TEXT, drop=1, min_width=12),
            Col("location", TEXT, drop=2, min_width=20)]
    rows = [(t.layer, t.name, t.rows, partitions(t.partitions), t.location + (f"\n{t.note}" if t.note else ""))
            for t in tables]
    if fmt == "csv":
        show(Section("tables", None, cols, rows), "csv")
        return
    with paged():
        show(Section("tables", f"{len(tables)} table(s)", cols, rows), wide=wide)
        console.print("[bold]Schemas[/]")
        for t in tables:
            columns = ", ".join(f"{n} [dim]{ty}[/]" for n, ty in t.columns) or f"[dim]{t.format}[/]"
            console.print(f"  [bold]{t.layer}.{t.name}[/]: {columns}", highlight=False)


def partitions(values: list[str]) -> str:
    if len(values) <= 3:
        return ", ".join(values)
    return f"{len(values)}: {values[0]} … {values[-1]}"


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    project: ProjectOpt = Path("."),
) -> None:
    """Write the dashboard as one self-contained HTML file (offline, filterable, no server)."""
    from cartflow.dashboard.report import write_report
    from cartflow.lake.s3 import LakeAccessError
    from cartflow.lake.storage import open_lake

    try:
        result = write_report(open_lake(load(project)), out)
    except LakeAccessError as exc:
        fail(str(exc))
    if result.empty:
        err_console.print("[yellow]note:[/] nothing published yet: the report says so; run `cartflow run` first",
                          soft_wrap=True)
    console.print(f"wrote {result.path} ({result.bytes / 1e6:.1f} MB) in {result.seconds:.1f}s")
