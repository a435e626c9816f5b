"""`cartflow watch`: debounced file-arrival runs; each file taken exactly once, even mid-run arrivals."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

import cartflow.pipeline.run as run_mod
from cartflow.config import Project, load_project
from cartflow.lake.storage import LocalStorage
from cartflow.pipeline.run import run_pipeline
from cartflow.pipeline.standardize import ModelsOutcome
from cartflow.pipeline.watch import Inbox, Watcher, inboxes, watch
from cartflow.runtime.backends import open_state
from conftest import write_csv

ROW = "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER ,6,12/1/2010 {h}:26,2.55,17850,United Kingdom"


class Tick:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def fake_runner(runs: list[str]):
    def run(trigger: str) -> SimpleNamespace:
        runs.append(trigger)
        return SimpleNamespace(status="succeeded", run_id=f"r{len(runs)}")
    return run


def test_debounce_waits_for_quiet_and_for_files_to_stop_growing(tmp_path: Path) -> None:
    inbox, clock, runs = tmp_path / "in", Tick(), []
    inbox.mkdir()
    w = Watcher([Inbox("s", LocalStorage(inbox))], fake_runner(runs), debounce_seconds=5, max_wait_seconds=60,
                clock=clock)
    (inbox / "a.csv").write_text("x" * 10)
    assert w.step() is None  # just arrived
    clock.t = 3
    (inbox / "a.csv").write_text("x" * 20)  # still being copied: it grew
    assert w.step() is None
    clock.t = 6
    (inbox / "b.csv").write_text("y")  # a second file in the same burst
    assert w.step() is None
    clock.t = 10.9
    assert w.step() is None and runs == []  # 4.9s of quiet is not enough
    clock.t = 11
    run = w.step()
    assert run is not None and run.trigger_files == ["s:a.csv", "s:b.csv"] and runs == ["watch"]
    clock.t = 30
    assert w.step() is None and runs == ["watch"]  # taken once: no second run for the same files
    (inbox / ".partial.tmp").write_text("hidden")  # dot-files are ignored, as the source ignores them
    (inbox / "sub").mkdir()
    (inbox / "sub" / "c.csv").write_text("z")  # so are sub-directories
    clock.t = 40
    assert w.step() is None and w.pending == {}


def test_a_steady_trickle_still_runs_after_max_wait(tmp_path: Path) -> None:
    inbox, clock, runs = tmp_path / "in", Tick(), []
    inbox.mkdir()
    w = Watcher([Inbox("s", LocalStorage(inbox))], fake_runner(runs), debounce_seconds=5, max_wait_seconds=12,
                clock=clock)
    for i in range(5):  # a new file every 3 seconds: never 5 quiet seconds
        (inbox / f"f{i}.csv").write_text("x")
        clock.t = i * 3.0
        w.step()
    assert runs == ["watch"]  # forced at t=12
    assert len(w.runs[0].trigger_files) == 5


@pytest.mark.slow
def test_a_file_landing_during_a_run_is_taken_by_the_next_run(project: Project, landing: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Real runs (extract and bronze); the transform stage is where the second file lands."""
    landed_during: list[str] = []

    def models_while_a_file_lands(*args, **kwargs):
        if not landed_during:
            write_csv(landing / "day2.csv", [ROW.format(h=9)])  # lands mid-run, after extract
            landed_during.append("day2.csv")
        return ModelsOutcome([], ran=False)

    monkeypatch.setattr(run_mod, "run_models", models_while_a_file_lands)
    write_csv(landing / "day1.csv", [ROW.format(h=8)])
    stop = threading.Event()
    timer = threading.Timer(60, stop.set)  # bound the test whatever happens
    timer.start()
    try:
        runs = watch(project, stop, poll_seconds=0.05, debounce_seconds=0.2, max_runs=2,
                     runner=lambda trigger: run_pipeline(project, trigger=trigger))
    finally:
        timer.cancel()
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    assert runs[0].trigger_files == ["online_retail:day1.csv"]
    assert runs[1].trigger_files == ["online_retail:day2.csv"]
    state = open_state(project)
    try:
        by_file = {m.source_file: m.run_id for m in state.manifests()}
        triggers = {r["run_id"]: r["trigger"] for r in state.runs()}
    finally:
        state.close()
    assert by_file == {"day1.csv": runs[0].run_id, "day2.csv": runs[1].run_id}  # each file once, by its run
    assert set(triggers.values()) == {"watch"}


@pytest.mark.slow
def test_a_restarted_watcher_retakes_nothing(project: Project, landing: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_mod, "run_models", lambda *a, **k: ModelsOutcome([], ran=False))  # about extraction only
    write_csv(landing / "day1.csv", [ROW.format(h=8)])
    first = run_pipeline(project)
    assert first.status == "succeeded"
    stop = threading.Event()
    runs = watch(project, stop, poll_seconds=0.05, debounce_seconds=0.1, max_runs=1)
    # the watcher treats what is there as new, but the run lands the same content at most once
    assert runs[0].status == "succeeded"
    state = open_state(project)
    try:
        assert len(state.manifests()) == 1
    finally:
        state.close()


def test_inboxes_follow_the_source_paths(project: Project) -> None:
    path = project.root / "cartflow.toml"
    path.write_text(path.read_text() + '\n[sources.partner]\nkind = "files"\npath = "drops/partner/*.csv"\n')
    (project.root / "drops" / "partner").mkdir(parents=True)
    (project.root / "drops" / "partner" / "a.csv").write_text("x")
    (project.root / "drops" / "partner" / "a.txt").write_text("x")
    (Path(project.lake_uri) / "landing" / "partner").mkdir(parents=True)
    (Path(project.lake_uri) / "landing" / "partner" / "b.csv").write_text("x")  # the lake's landing inbox
    (Path(project.lake_uri) / "landing" / "partner" / "processed").mkdir()
    (Path(project.lake_uri) / "landing" / "partner" / "processed" / "old.csv").write_text("x")
    found = sorted((i.source, i.keys()) for i in inboxes(load_project(project.root)))
    assert found == [("online_retail", []), ("online_retail", []), ("partner", ["a.csv"]),
                     ("partner", ["landing/partner/b.csv"])]


@pytest.mark.slow
def test_cli_watch_runs_once_and_exits(project: Project, landing: Path) -> None:
    (landing / "empty.csv").write_bytes(b"")  # a bad file: rejected, the run is partial (no SQLMesh), watch goes on
    out = subprocess.run([sys.executable, "-m", "cartflow.cli", "watch", "-p", str(project.root), "--debounce", "0.1",
                          "--poll", "0.1", "--max-runs", "1"], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "partial for 1 file(s)" in out.stdout and "empty.csv: the file is empty" in out.stderr


def test_a_run_that_cannot_start_does_not_stop_the_watcher(tmp_path: Path) -> None:
    inbox, clock, calls = tmp_path / "in", Tick(), []
    inbox.mkdir()

    def flaky(trigger: str) -> SimpleNamespace:
        calls.append(trigger)
        if len(calls) == 1:
            raise OSError("state store unavailable")
        return SimpleNamespace(status="succeeded", run_id="r2")

    w = Watcher([Inbox("s", LocalStorage(inbox))], flaky, debounce_seconds=5, clock=clock)
    (inbox / "a.csv").write_text("x")
    w.step()
    clock.t = 5
    assert w.step() is None and len(calls) == 1  # failed: still pending, retried after another debounce
    clock.t = 9
    assert w.step() is None and len(calls) == 1
    clock.t = 10
    assert w.step().trigger_files == ["s:a.csv"] and len(calls) == 2


@pytest.mark.slow
def test_an_s3_landing_inbox_is_watched_the_same_way(s3_project: Project) -> None:
    """The lake's inbox on a real S3 server (SeaweedFS): polled through Storage.list/size."""
    from cartflow.lake.storage import open_lake

    lake, clock, runs = open_lake(s3_project), Tick(), []
    w = Watcher([i for i in inboxes(s3_project) if i.storage.root.startswith("s3://")], fake_runner(runs),
                debounce_seconds=2, clock=clock)
    lake.write_bytes("landing/online_retail/day1.csv", b"InvoiceNo\r\n1\r\n")
    lake.write_bytes("landing/online_retail/processed/2026-01-01/old.csv", b"x")  # already taken: not watched
    assert w.step() is None
    clock.t = 2
    run = w.step()
    assert run is not None and run.trigger_files == ["online_retail:landing/online_retail/day1.csv"]
    lake.move("landing/online_retail/day1.csv", "landing/online_retail/processed/2026-01-02/day1.csv")
    clock.t = 10
    assert w.step() is None and runs == ["watch"] and w.taken == set()
