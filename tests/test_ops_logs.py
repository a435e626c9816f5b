"""Structured logs: JSON lines with the run id on every line of a run; text format says it too."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import cartflow.pipeline.run as run_mod
from cartflow.config import Project
from cartflow.pipeline.run import run_pipeline
from cartflow.pipeline.standardize import ModelsOutcome
from cartflow.runtime.logs import configure_logging, reset_logging, run_context
from conftest import write_csv


@pytest.fixture
def restore_logging():
    yield
    reset_logging()


def test_json_lines_carry_the_run_id_and_extras(restore_logging: None) -> None:
    buf = io.StringIO()
    configure_logging("json", "INFO", stream=buf)
    log = logging.getLogger("cartflow.test")
    log.info("outside a run")
    with run_context("20260101T000000-abc123"):
        log.warning("source %s failed", "shop", extra={"source": "shop", "attempt": 2})
        try:
            raise ValueError("bad")
        except ValueError:
            log.exception("with a traceback")
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert lines[0]["run_id"] is None
    assert lines[1] == {**lines[1], "level": "warning", "logger": "cartflow.test", "msg": "source shop failed",
                        "run_id": "20260101T000000-abc123", "source": "shop", "attempt": 2}
    assert "ValueError: bad" in lines[2]["exc"] and lines[2]["run_id"] == "20260101T000000-abc123"


@pytest.mark.slow
def test_every_line_of_a_run_has_its_run_id(project: Project, landing: Path, restore_logging: None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_mod, "run_models", lambda *a, **k: ModelsOutcome([], ran=False))
    write_csv(landing / "day1.csv", ["536365,85123A,X,6,12/1/2010 8:26,2.55,17850,United Kingdom"])
    buf = io.StringIO()
    logfile = project.root / "logs" / "run.jsonl"
    configure_logging("json", "DEBUG", stream=buf, file=logfile)
    result = run_pipeline(project)
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert len(lines) >= 8  # run started, each stage, the source, run finished
    assert {line["run_id"] for line in lines} == {result.run_id}
    assert any(line["msg"] == "run started" and line["trigger"] == "manual" for line in lines)
    assert any(line.get("stage") == "extract" for line in lines)
    assert [json.loads(x)["run_id"] for x in logfile.read_text().splitlines()] == [result.run_id] * len(lines)


def test_text_format_names_the_run(restore_logging: None) -> None:
    buf = io.StringIO()
    configure_logging("text", "INFO", stream=buf)
    with run_context("r-1"):
        logging.getLogger("cartflow.x").info("hello", extra={"rows": 3})
    assert "INFO [run r-1] cartflow.x: hello rows=3" in buf.getvalue()


@pytest.mark.slow
def test_cli_run_log_format_json(project: Project) -> None:
    out = subprocess.run([sys.executable, "-m", "cartflow.cli", "run", "-p", str(project.root), "--log-format", "json"],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]  # nothing but JSON on stderr
    run_ids = {line["run_id"] for line in lines}
    assert len(run_ids) == 1 and None not in run_ids
    assert run_ids.pop() in out.stdout
    logged = (project.work_dir / "logs" / "cartflow.jsonl").read_text().splitlines()  # the default log file
    assert logged and all(json.loads(x)["run_id"] for x in logged)
