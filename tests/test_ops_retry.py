"""Per-source retries with backoff and jitter, and an honest final status (faults injected)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import cartflow.pipeline.run as run_mod
from cartflow.config import Project, load_project
from cartflow.pipeline.run import run_pipeline
from cartflow.pipeline.standardize import ModelsOutcome
from cartflow.runtime.backends import open_state
from cartflow.runtime.retry import RetryPolicy, call_with_retry, policy_for_source
from conftest import write_csv

ROW = "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER ,6,12/1/2010 8:26,2.55,17850,United Kingdom"

FAST_RETRIES = """
[retries]
attempts = 3
backoff_seconds = 0.01
max_backoff_seconds = 0.05
"""


def configure(project: Project, extra: str) -> Project:
    path = project.root / "cartflow.toml"
    path.write_text(path.read_text() + extra)
    return load_project(project.root)


@pytest.fixture
def no_transform(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about extraction: SQLMesh is not run (its own tests cover it)."""
    monkeypatch.setattr(run_mod, "run_models", lambda *a, **k: ModelsOutcome([], ran=False))


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    policy = RetryPolicy(attempts=6, backoff_seconds=1.0, max_backoff_seconds=5.0, jitter=0.5)
    rng = random.Random(7)
    for retry, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (5, 5.0)]:
        waits = [policy.delay(retry, rng) for _ in range(200)]
        assert all(base * 0.5 <= w <= base for w in waits)
        assert max(waits) - min(waits) > base * 0.3  # jitter really spreads the waits
    assert RetryPolicy(jitter=0.0, backoff_seconds=2.0).delay(2) == 4.0


def test_call_with_retry_stops_at_success_and_at_unretryable_errors() -> None:
    calls, waits = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("reset by peer")
        return "ok"

    out = call_with_retry(flaky, RetryPolicy(attempts=5, backoff_seconds=1.0, jitter=0.0), sleep=waits.append)
    assert (out.ok, out.value, out.attempts, waits) == (True, "ok", 3, [1.0, 2.0])

    class Bad(Exception):
        retryable = False

    out = call_with_retry(lambda: (_ for _ in ()).throw(Bad("no")), RetryPolicy(attempts=5), sleep=waits.append)
    assert (out.ok, out.attempts) == (False, 1)


def test_per_source_override(project: Project) -> None:
    project = configure(project, FAST_RETRIES + "\n[retries.sources.online_retail]\nattempts = 7\n")
    assert policy_for_source(project, "online_retail").attempts == 7
    assert policy_for_source(project, "online_retail").backoff_seconds == 0.01


@pytest.mark.slow
def test_a_source_that_fails_then_recovers(project: Project, landing: Path, no_transform: None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    project = configure(project, FAST_RETRIES)
    write_csv(landing / "day1.csv", [ROW])
    real, calls = run_mod.extract, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 2:
            raise ConnectionError(f"network blip {len(calls)}")
        return real(*args, **kwargs)

    monkeypatch.setattr(run_mod, "extract", flaky)
    result = run_pipeline(project)
    assert result.status == "succeeded", result.error
    state = open_state(project)
    try:
        task = next(t for t in state.run(result.run_id)["tasks"] if t["task"] == "extract:online_retail")
        manifests = state.manifests()
    finally:
        state.close()
    assert (task["status"], task["attempts"], task["rows"]) == ("succeeded", 3, 1)
    assert len(manifests) == 1 and manifests[0].source_file == "day1.csv"  # landed once, not three times


@pytest.mark.slow
def test_honest_status_required_fails_optional_is_partial_others_go_on(project: Project, landing: Path,
                                                                       no_transform: None,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    extra = FAST_RETRIES + """
[sources.partner_feed]
kind = "files"
path = "landing/online_retail"
required = false
"""
    project = configure(project, extra)
    write_csv(landing / "day1.csv", [ROW])
    real = run_mod.extract

    def partner_down(project, storage, state, reporter, name, source, run_id):
        if name == "partner_feed":
            raise ConnectionError("partner API is down")
        return real(project, storage, state, reporter, name, source, run_id)

    monkeypatch.setattr(run_mod, "extract", partner_down)
    result = run_pipeline(project)
    assert result.status == "partial"
    assert "partner_feed" in result.failed_sources and "after 3 attempt(s)" in result.error
    state = open_state(project)
    try:
        assert [m.source for m in state.manifests()] == ["online_retail"]  # the healthy source still landed
        tasks = {t["task"]: t for t in state.run(result.run_id)["tasks"]}
        assert tasks["extract:partner_feed"]["attempts"] == 3
        assert tasks["extract:partner_feed"]["status"] == "failed"
    finally:
        state.close()

    toml = project.root / "cartflow.toml"
    toml.write_text(toml.read_text().replace("required = false", "required = true"))
    result = run_pipeline(load_project(project.root))
    assert result.status == "failed" and "partner_feed" in result.error


@pytest.mark.slow
def test_an_unretryable_error_is_not_retried(project: Project, no_transform: None) -> None:
    project = configure(project, FAST_RETRIES)
    (project.root / "landing" / "online_retail").rmdir()  # a config problem: waiting cannot fix it
    result = run_pipeline(project)
    assert result.status == "failed" and "after 1 attempt(s)" in result.error
