"""Operations: `scheduler`, `watch`, `dlq` (dead letters), `alerts`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from cartflow.cli._app import alerts_app, app, dlq_app
from cartflow.cli._common import FormatOpt, LogFormatOpt, ProjectOpt, fail, load, setup_logging
from cartflow.console import console, err_console, table


QueueArg = Annotated[str, typer.Argument(help="Which queue: quarantine, stream or files.")]


def stop_event():
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

    proj = load(project)
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
    setup_logging(proj, log_format or "text")
    try:
        fired = serve(proj, stop_event(), once=once)
    except LockHeld as exc:
        fail(str(exc), 3)
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

    proj = load(project)
    setup_logging(proj, log_format or "text")

    def on_run(r) -> None:
        console.print(f"run {r.run_id}: {r.status} for {len(r.trigger_files)} file(s)")

    try:
        watch_inboxes(proj, stop_event(), poll_seconds=poll, debounce_seconds=debounce, max_runs=max_runs,
                      on_run=on_run)
    except ValueError as exc:
        fail(str(exc), 2)


def queue_named(name: str):
    from rich.markup import escape

    from cartflow.pipeline.dlq import DlqError, provider

    try:
        return provider(name)
    except DlqError as exc:
        fail(escape(str(exc)), 2)


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
        fail(f"--format {fmt!r}: allowed values are table, json", 2)
    proj = load(project)
    chosen = {queue: queue_named(queue)} if queue else providers()
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

    p, proj = queue_named(queue), load(project)
    try:
        item = p.show(proj, item_id)
    except DlqError as exc:
        fail(escape(str(exc)), 2)
    if item is None:
        fail(f"no single {queue} item {item_id!r}: `cartflow dlq list {queue}` shows the ids")
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
        fail("say what to replay: item ids, --reason PREFIX, or --all", 2)
    p, proj = queue_named(queue), load(project)
    setup_logging(proj, None)
    try:
        result = p.replay(proj, list(ids or []) or None, reason=reason, dry_run=dry_run)
    except LockHeld as exc:
        fail(str(exc), 3)
    except DlqError as exc:
        fail(escape(str(exc)))
    for m in result.messages:
        console.print(m)
    console.print(f"{queue}: {result.selected} selected, {result.replayed} replayed, {result.skipped} already "
                  f"replayed before, {result.failed} still rejected" + (" (dry run)" if dry_run else "")
                  + (f" — run {result.run_id}" if result.run_id else ""))


@alerts_app.command("list")
def alerts_list(project: ProjectOpt = Path("."),
                limit: Annotated[int, typer.Option(help="How many of the latest alerts.")] = 20) -> None:
    """The latest alerts from the local alert log, with how each delivery went."""
    from cartflow.pipeline.alerts import read_alert_log

    entries = read_alert_log(load(project), limit)
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

    proj = load(project)
    setup_logging(proj, None)
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
