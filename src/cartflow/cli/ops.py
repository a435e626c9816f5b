"""Operations: `scheduler`, `watch`, `dlq` (dead letters), `alerts`."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from cartflow.cli._app import alerts_app, app, dlq_app
from cartflow.cli._common import (
    FormatOpt,
    LogFormatOpt,
    ProjectOpt,
    WideOpt,
    fail,
    load,
    project_arg,
    setup_logging,
    valid_format,
)
from cartflow.console import COUNT, ID, TEXT, TIME, Col, Section, console, err_console, hint, paged, show

if TYPE_CHECKING:
    import threading
    from types import FrameType

    from cartflow.config import Project
    from cartflow.pipeline.dlq import DlqProvider
    from cartflow.pipeline.watch import WatchRun


QueueArg = Annotated[str, typer.Argument(help="Which queue: quarantine, stream or files.")]


def stop_event() -> threading.Event:
    """A threading.Event set by the first SIGINT/SIGTERM (a run in progress finishes first)."""
    import signal
    import threading

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
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
    fmt: FormatOpt = "table",
    log_format: LogFormatOpt = None,
) -> None:
    """Run the pipeline on the cron schedules of \\[schedule.jobs] until stopped (Ctrl-C or SIGTERM).

    Missed runs (the scheduler was down) are skipped but the latest, unless catchup = true.
    """
    from cartflow.pipeline.schedule import serve
    from cartflow.runtime.lock import LockHeld

    valid_format(fmt)
    proj = load(project)
    jobs = scheduled_jobs(proj)
    if not jobs:
        hint("no jobs to schedule: [schedule.jobs] in cartflow.toml has none enabled. Add one, e.g.",
             "[schedule.jobs.nightly]", 'cron = "0 2 * * *"')
        return
    if list_jobs:
        show(Section("jobs", f"Schedules ({proj.config.schedule.timezone})",
                     [Col("job", ID), Col("cron", TEXT, min_width=9), Col("last_run", TIME, header="last run (UTC)"),
                      Col("last_run_id", ID, drop=1, header="last run id"), Col("next_run", TIME, header="next run (UTC)")],
                     jobs), fmt)
        return
    console.print(f"scheduling {len(jobs)} job(s), times in UTC (cron in {proj.config.schedule.timezone}); "
                  "Ctrl-C stops:" if not once else f"running the job(s) due now of {len(jobs)}:", highlight=False)
    for job, cron, last, _, nxt in jobs:
        console.print(f"  {job}  {cron}  next {nxt}" + (f"  last {last}" if last else "  (never ran)"),
                      highlight=False)
    setup_logging(proj, log_format or "text")
    try:
        fired = serve(proj, stop_event(), once=once)
    except LockHeld as exc:
        fail(str(exc), 3)
    for f in fired:
        console.print(f"{f.job} @ {f.at.isoformat()}: {f.status} {f.run_id or ''}"
                      + (f" (skipped {len(f.skipped)} missed)" if f.skipped else ""))
    if once:
        upcoming = sorted(scheduled_jobs(proj), key=lambda j: j[4])
        console.print(("nothing was due now; " if not fired else "") + "next due: "
                      + ", ".join(f"{j[0]} at {j[4]}" for j in upcoming if j[4] == upcoming[0][4]), highlight=False)


def scheduled_jobs(proj: Project) -> list[tuple[str, str, str | None, str | None, str]]:
    """(job, cron, last run time, last run id, next run time) per enabled job. The last run is the latest
    run the job triggered, from the run history: a job that never ran has none."""
    from cartflow.pipeline.schedule import Scheduler

    sched = Scheduler(proj)
    try:
        upcoming = sched.upcoming()
        history = sched.state.runs(limit=10_000) if upcoming else []
    finally:
        sched.close()
    rows = []
    for name, cron, _, nxt in upcoming:
        last = next((r for r in history if r["trigger"].startswith(f"schedule:{name}@")), None)
        rows.append((name, cron, last["started_at"][:19].replace("T", " ") if last else None,
                     last["run_id"] if last else None, nxt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")))
    return rows


@app.command()
def watch(
    project: ProjectOpt = Path("."),
    debounce: Annotated[float | None, typer.Option(
        help="Seconds without new or growing files before a run starts (default: \\[watch] debounce_seconds).")]
    = None,
    poll: Annotated[float | None, typer.Option(help="Seconds between looks at the inboxes (\\[watch] poll_seconds).")]
    = None,
    max_runs: Annotated[int | None, typer.Option(help="Stop after this many runs (default: run until stopped).")]
    = None,
    log_format: LogFormatOpt = None,
) -> None:
    """Start a run whenever files land in a `files` source's inbox (debounced; each file taken once)."""
    from cartflow.pipeline.watch import inboxes
    from cartflow.pipeline.watch import watch as watch_inboxes

    proj = load(project)
    setup_logging(proj, log_format or "text")
    watched = inboxes(proj)
    cfg = proj.config.watch
    if watched:
        console.print(f"watching {len(watched)} folder(s) for new files (a run starts "
                      f"{cfg.debounce_seconds if debounce is None else debounce:g}s after the last arrival; "
                      f"looking every {cfg.poll_seconds if poll is None else poll:g}s; Ctrl-C stops):", highlight=False)
        for inbox in watched:
            where = inbox.storage.uri(inbox.prefix) if inbox.prefix else inbox.storage.uri("")
            console.print(f"  {inbox.source}: {where.rstrip('/')}/{inbox.pattern or ''}", highlight=False,
                          soft_wrap=True)

    def on_run(r: WatchRun) -> None:
        console.print(f"run {r.run_id}: {r.status} for {len(r.trigger_files)} file(s)")

    try:
        watch_inboxes(proj, stop_event(), poll_seconds=poll, debounce_seconds=debounce, max_runs=max_runs,
                      on_run=on_run)
    except ValueError as exc:
        fail(str(exc), 2)


def queue_named(name: str) -> DlqProvider:
    from rich.markup import escape

    from cartflow.pipeline.dlq import DlqError, provider

    try:
        return provider(name)
    except DlqError as exc:
        fail(escape(str(exc)), 2)


DLQ_COLUMNS = [Col("id", ID), Col("reason", ID), Col("status", ID), Col("at", TIME, drop=2),
               Col("source", TEXT, drop=3, min_width=14), Col("summary", TEXT, drop=1, min_width=30)]


@dlq_app.command("list")
def dlq_list(
    queue: Annotated[str | None, typer.Argument(help="quarantine, stream or files (all when omitted).")] = None,
    project: ProjectOpt = Path("."),
    limit: Annotated[int, typer.Option(help="How many items to list per queue, newest first.")] = 20,
    reason: Annotated[str | None, typer.Option(help="Only reasons starting with this, e.g. unparseable:.")] = None,
    fmt: FormatOpt = "table",
    wide: WideOpt = False,
) -> None:
    """Counts by reason and the latest items of each dead-letter queue, with their replay status."""
    from cartflow.pipeline.dlq import as_json, providers

    valid_format(fmt)
    proj = load(project)
    chosen = {queue: queue_named(queue)} if queue else providers()
    if fmt == "json":
        typer.echo(as_json([i for p in chosen.values() for i in p.list(proj, limit=limit, reason=reason)]))
        return
    if fmt == "csv":
        items = [i for p in chosen.values() for i in p.list(proj, limit=limit, reason=reason)]
        show(Section("items", None, [Col("queue"), *DLQ_COLUMNS],
                     [(i.provider, i.id, i.reason, i.status, i.at, i.source, i.summary) for i in items]), "csv")
        return
    with paged():
        for name, p in chosen.items():
            counts = p.counts(proj)
            if not counts:
                console.print(f"[green]{name}[/]: empty — {escape(p.description)}", highlight=False)
                continue
            show(Section("counts", f"{name}: {sum(counts.values()):,} item(s) — {p.description}",
                         [Col("reason", ID), Col("items", COUNT)], list(counts.items())))
            items = p.list(proj, limit=limit, reason=reason)
            show(Section("items", f"{name}: latest {len(items)}", DLQ_COLUMNS,
                         [(i.id, i.reason, i.status, (i.at or "")[:19] or None, i.source, i.summary) for i in items]),
                 wide=wide)
        hint("inspect one, or replay after a fix:", f"cartflow dlq show QUEUE ID --project {project_arg(proj)}",
             f"cartflow dlq replay QUEUE ID... --project {project_arg(proj)}")


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
        fail(f"no single {queue} item {item_id!r}; the ids are in", 1,
             f"cartflow dlq list {queue} --project {project_arg(proj)}")
    typer.echo(json.dumps(item.__dict__, indent=2, default=str, ensure_ascii=False))


@dlq_app.command("replay")
def dlq_replay(
    queue: QueueArg,
    ids: Annotated[list[str] | None, typer.Argument(help="Item ids to replay (see `dlq list`).")] = None,
    all_items: Annotated[bool, typer.Option("--all", help="Replay every pending item of the queue.")] = False,
    reason: Annotated[str | None, typer.Option(help="Replay the items whose reason starts with this.")] = None,
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
                limit: Annotated[int, typer.Option(help="How many of the latest alerts.")] = 20,
                fmt: FormatOpt = "table", wide: WideOpt = False) -> None:
    """The latest alerts from the local alert log, with how each delivery went."""
    from cartflow.pipeline.alerts import read_alert_log

    valid_format(fmt)
    entries = read_alert_log(load(project), limit)
    if not entries and fmt == "table":
        console.print("no alerts yet")
        return
    with paged():
        show(Section("alerts", "Alerts", [Col("at", TIME), Col("kind", ID), Col("run", ID, drop=2),
                                          Col("title", TEXT, min_width=20), Col("deliveries", TEXT, drop=1)],
                     [(e["at"][:19], e["kind"], e.get("run_id"), e["title"],
                       ", ".join(f"{d['sink']} {'ok' if d['ok'] else 'FAILED'}" for d in e["deliveries"]) or "log")
                      for e in entries]), fmt, wide=wide)


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
