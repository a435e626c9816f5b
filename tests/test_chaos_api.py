"""Schemathesis against a real `cartflow serve`: the OpenAPI document and the server agree (issue 13, section 7).

Schemathesis reads `/openapi.json` from the running server and sends generated requests,
schema-valid and schema-violating, to every operation, with every check (`--checks all`):
no 5xx, documented statuses, content types and headers, responses matching their schemas,
valid requests accepted, invalid ones rejected, auth honoured. Seeded, so a failure
reproduces. tests/schemathesis_hooks.py adapts positive cases to the rules the document
can state only in words (quantity x price, event-id binding, from <= to, opaque cursors).

CI runs a subset; `pytest -m chaos` (make chaos) runs >= 1,000 requests. The number of
examples per operation: CARTFLOW_CHAOS_EXAMPLES.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from cartflow.scaffold import init_project
from stream_fixtures import API_KEY, ApiServer

SEED = 1313
CI_EXAMPLES = 30
CHAOS_EXAMPLES = 250
TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    root = tmp_path_factory.mktemp("schemathesis") / "shop"
    init_project(root)
    api = ApiServer(root, {"CARTFLOW_API_KEY": API_KEY, "CARTFLOW__STREAM__RAW_FLUSH_SECONDS": "0.5"})
    api.start()
    yield api
    api.stop()


def run_schemathesis(server: ApiServer, examples: int, report_dir: Path) -> tuple[dict[str, Any], str]:
    """`st run` with every check; the JSON report and the console output."""
    command = [str(Path(sys.executable).with_name("st")), "run", f"{server.url}/openapi.json", "--checks", "all",
               "--header", f"X-API-Key: {API_KEY}", "--max-examples", str(examples), "--seed", str(SEED),
               "--generation-database", "none", "--workers", "1", "--continue-on-failure", "--no-color",
               "--report", "json", "--report-dir", str(report_dir), "--request-timeout", "30"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800, cwd=report_dir)
    [report] = report_dir.glob("*.json")
    return json.loads(report.read_text()), done.stdout + done.stderr


def check(server: ApiServer, examples: int, at_least: int, tmp_path: Path) -> None:
    report, output = run_schemathesis(server, examples, tmp_path)
    cases = report["test_cases"]
    summary = (f"schemathesis: {cases['generated']} requests, {report['operations']['tested']} operations, "
               f"checks all, failures {cases['with_failures']}, errors {cases['errored']}")
    print(summary)
    assert report["failures"] == [] and cases["with_failures"] == 0, f"{summary}\n{output[-6000:]}"
    assert report["errors"] == [] and cases["errored"] == 0, f"{summary}\n{output[-6000:]}"
    assert report["operations"]["tested"] == report["operations"]["total"], summary
    assert cases["generated"] >= at_least, summary
    assert "--checks all" in report["command"]
    assert server.get("/v1/health").status_code == 200  # and the server is still well


@pytest.mark.slow
def test_schemathesis_every_check_seeded_subset(server: ApiServer, tmp_path: Path) -> None:
    examples = int(os.environ.get("CARTFLOW_CHAOS_EXAMPLES", CI_EXAMPLES))
    check(server, examples, at_least=min(300, 10 * examples), tmp_path=tmp_path)


@pytest.mark.chaos
def test_schemathesis_every_check_at_least_1000_requests(server: ApiServer, tmp_path: Path) -> None:
    examples = int(os.environ.get("CARTFLOW_CHAOS_EXAMPLES", CHAOS_EXAMPLES))
    check(server, examples, at_least=1000, tmp_path=tmp_path)
