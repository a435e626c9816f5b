"""Look at what a project holds: `sql`, `status`, `runs`, `catalog`, `report`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from cartflow.cli._app import app
from cartflow.cli._common import FormatOpt, ProjectOpt, fail, load
from cartflow.console import console, err_console, table


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="SQL over the published tables, each by its bare name.")],
    project: ProjectOpt = Path("."),
    fmt: FormatOpt = "table",
    unsafe: Annotated[bool, typer.Option(
        "--unsafe", help="Also run statements that write or reach outside the marts (COPY, ATTACH, CREATE, SET, "
                         "INSTALL, reading other files). Off: read-only.")] = False,
) -> None:
    """Ad-hoc, read-only SQL over the published marts (the Athena role); never touches the warehouse."""
    from cartflow.lake.storage import open_lake
    from cartflow.lake.s3 import LakeAccessError
    from cartflow.serving.sql import QueryError, query, to_csv, to_json

    if fmt not in ("table", "csv", "json"):
        fail(f"--format {fmt!r}: allowed values are table, csv, json")
    try:
        columns, rows = query(open_lake(load(project)), statement, unsafe=unsafe)
    except (QueryError, LakeAccessError) as exc:
        fail(str(exc))
    if fmt == "csv":
        typer.echo(to_csv(columns, rows), nl=False)
    elif fmt == "json":
        typer.echo(to_json(columns, rows))
    else:
        console.print(table(f"{len(rows)} row(s)", columns, rows))


@app.command()
def status(project: ProjectOpt = Path(".")) -> None:
    """Last runs, rows per layer and quarantine by reason."""
    from cartflow.runtime.backends import open_state

    state = open_state(load(project))
    runs = state.runs(limit=5)
    state.close()
    if not runs:
        console.print("no runs yet: drop files into the landing inbox and run `cartflow run`")
        return
    console.print(table("Last runs", ["run", "status", "trigger", "started", "seconds", "new batches", "error"],
                        [run_row(r) for r in runs]))
    last = next((json.loads(r["stats"]) for r in runs if r["stats"] and json.loads(r["stats"]).get("layer_rows")), None)
    if last:
        console.print(table("Rows per layer", ["layer", "rows"], [(k, f"{v:,}") for k, v in last["layer_rows"].items()]))
        console.print(table("Quarantine by reason", ["reason", "rows"],
                            [(k, f"{v:,}") for k, v in last["quarantine"].items()]))


def run_row(r: dict) -> tuple:
    stats = json.loads(r["stats"]) if r.get("stats") else {}
    secs = sum(stats.get("stage_seconds", {}).values()) if stats else None
    return (r["run_id"], r["status"], r["trigger"], r["started_at"][:19],
            f"{secs:.1f}" if secs is not None else "", stats.get("new_batches", ""), (r.get("error") or "")[:80])


@app.command()
def runs(
    run_id: Annotated[Optional[str], typer.Argument(
        help="Show one run's tasks (an id or its prefix); `runs show ID` works too.")] = None,
    show_id: Annotated[Optional[str], typer.Argument(help="The run id, after `show`.", show_default=False)] = None,
    project: ProjectOpt = Path("."),
    limit: Annotated[int, typer.Option(help="How many runs to list.")] = 20,
) -> None:
    """List runs, or show one run's tasks with status, timings, rows, attempts and errors."""
    from cartflow.runtime.backends import open_state

    if run_id == "show":
        if not show_id:
            fail("`cartflow runs show ID`: give the run id (or a prefix); `cartflow runs` lists them", 2)
        run_id = show_id
    state = open_state(load(project))
    try:
        if run_id is None:
            console.print(table("Runs", ["run", "status", "trigger", "started", "seconds", "new batches", "error"],
                                [run_row(r) for r in state.runs(limit=limit)]))
            return
        run = state.run(run_id)
        if run is None:
            fail(f"no run {run_id!r}: `cartflow runs` lists them")
        console.print(f"run {run['run_id']}: {run['status']} ({run['trigger']}) "
                      f"{run['started_at']} → {run['finished_at'] or '…'}")
        if run["error"]:
            console.print(f"[red]error:[/] {run['error']}")
        console.print(table("Tasks", ["task", "status", "seconds", "rows", "attempts", "error"],
                            [(t["task"], t["status"], t["seconds"], t["rows"], t["attempts"], t["error"] or "")
                             for t in run["tasks"]]))
        stats = json.loads(run["stats"]) if run.get("stats") else {}
        for w in stats.get("warnings", []):
            console.print(f"[yellow]warning:[/] {w}")
        if stats.get("restated"):
            r = stats["restated"]
            console.print(f"restated {r.get('from') or r.get('reason')}..{r.get('to') or ''}: "
                          f"{len(r.get('batches', []))} batch(es); rebuilt from {r.get('rebuilt_from_batches')}")
    finally:
        state.close()


@app.command()
def catalog(
    project: ProjectOpt = Path("."),
    fmt: FormatOpt = "table",
    ddl: Annotated[Optional[str], typer.Option("--ddl", help="Print DDL for the published marts: athena or trino.")] = None,
    database: Annotated[Optional[str], typer.Option(help="Database/schema for --ddl (default: the project name).")] = None,
    trino_catalog: Annotated[str, typer.Option("--trino-catalog", help="Trino catalog (Hive connector) for --ddl trino.")] = "hive",
    location: Annotated[Optional[str], typer.Option(help="For --ddl: the lake root the engine reads (a copied lake), e.g. s3://bucket/prefix.")] = None,
) -> None:
    """Every table in every layer (schema, partitions, rows, location); --ddl for Athena/Trino."""
    from cartflow.lake.s3 import LakeAccessError
    from cartflow.lake.storage import open_lake
    from cartflow.runtime.backends import open_state
    from cartflow.publish.catalog import build_catalog, database_name
    from cartflow.publish.catalog import ddl as make_ddl
    from cartflow.publish.ddl import DIALECTS, DdlError

    if ddl is not None and ddl not in DIALECTS:
        fail(f"--ddl {ddl!r}: allowed values are {', '.join(DIALECTS)}")
    if fmt not in ("table", "json"):
        fail(f"--format {fmt!r}: allowed values are table, json")
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
    if not tables:
        console.print("the catalog is empty: drop files into the landing inbox and run `cartflow run`")
        return
    console.print(table(f"{len(tables)} table(s)", ["layer", "table", "rows", "partitions", "location"],
                        [(t.layer, t.name, "" if t.rows is None else f"{t.rows:,}", partitions(t.partitions),
                          t.location + (f"\n{t.note}" if t.note else "")) for t in tables]))
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
        err_console.print("[yellow]note:[/] nothing published yet: the report says so; run `cartflow run` first")
    console.print(f"wrote {result.path} ({result.bytes / 1e6:.1f} MB) in {result.seconds:.1f}s")
