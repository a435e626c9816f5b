"""pytest plugin for `make chaos`: the figures of every chaos suite, gathered into one results file.

    PYTHONPATH=tests pytest -m chaos -p chaos_results --chaos-results docs/chaos-results.json ...

Each suite prints its figures; this reads them from the captured output of each test (and of
each module's teardown, where the property suite prints its totals): the Schemathesis summary
line, the property suite's totals, and the `chaos-figures {json}` lines of the kill points and
the file fuzz. With each test's outcome and duration it writes one JSON file, which
scripts/chaos_report.py renders into docs/reliability.md.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

FIGURES = "chaos-figures "
SCHEMATHESIS = re.compile(r"schemathesis: (\d+) requests, (\d+) operations, checks all, failures (\d+), errors (\d+)")
PROPERTY = re.compile(r"property suite: (\{.*\})")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--chaos-results", default=None, help="Write the chaos suites' figures to this JSON file.")


class Collector:
    def __init__(self, path: Path) -> None:
        self.path, self.started = path, time.time()
        self.tests: dict[str, dict[str, Any]] = {}
        self.suites: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        test = self.tests.setdefault(report.nodeid, {"outcome": "passed", "seconds": 0.0})
        test["seconds"] = round(test["seconds"] + report.duration, 1)
        if report.failed:
            test["outcome"] = "failed" if report.when == "call" else f"error in {report.when}"
        elif report.skipped:
            test["outcome"] = "skipped"
        for line in report.capstdout.splitlines():
            self.read(line)

    def read(self, line: str) -> None:
        if line.startswith(FIGURES):
            figures = json.loads(line[len(FIGURES):])
            self.suites[figures.pop("suite")] = figures
        elif match := SCHEMATHESIS.search(line):
            requests, operations, failures, errors = map(int, match.groups())
            self.suites["schemathesis"] = {"requests": requests, "operations": operations, "checks": "all",
                                           "failures": failures, "errors": errors}
        elif match := PROPERTY.search(line):
            self.suites["property suite"] = {**ast.literal_eval(match[1]), "failures": 0}

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        failed = [n for n, t in self.tests.items() if t["outcome"] not in ("passed", "skipped")]
        if "property suite" in self.suites and any("test_property_stream" in n for n in failed):
            self.suites["property suite"]["failures"] = 1
        result = {"finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "seconds": round(time.time() - self.started), "machine": f"{platform.machine()}, "
                  f"{os.cpu_count()} CPUs", "exit_status": int(exitstatus),
                  "suites": self.suites, "tests": self.tests, "failed_tests": failed}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--chaos-results")
    if path:
        config.pluginmanager.register(Collector(Path(path)), "chaos-results-collector")
