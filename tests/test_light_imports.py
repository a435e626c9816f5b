"""Light commands never load the heavy engines: SQLMesh, pyspark, pandas (issue 15).

A `cartflow run` with nothing new decides so before it imports the transform engine (and,
stricter, without DuckDB or pyarrow: together they cost twice a bare `import duckdb`), and
`sql`, `status`, `runs`, `catalog` (without --ddl), `dlq`, `alerts list`, `--help`,
`--version`, `serve` (with its consumers) and `send` never need them. What each real process
imported is read from `PYTHONPROFILEIMPORTTIME` (Python's `-X importtime`: one line per module,
as it is imported), so these tests check the import graph, never a duration; the time itself is
measured by `python -m benchmarks` (docs/benchmarks.md, "Light commands").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cartflow.config import Project, load_project
from cartflow.pipeline.run import run_pipeline
from cartflow.runtime.backends import open_state
from cartflow.scaffold import init_project
from conftest import write_csv
from stream_fixtures import API_KEY, wait_until

HEAVY = ("sqlmesh", "pyspark", "pandas")
"""Never imported by a light command."""
NOOP_HEAVY = (*HEAVY, "duckdb", "pyarrow")
"""Never imported by a run that finds nothing new."""
ROWS = [
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom",
    "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom",
    "536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,17850,United Kingdom",
]
SQL = "SELECT count(*) AS months FROM mart_revenue_monthly"


def imported(log: str) -> set[str]:
    """Modules named in `-X importtime` lines (`import time: self | cumulative | name`), and their packages."""
    names = set()
    for line in log.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header line
                names |= {name, name.split(".")[0]}
    return names


def cartflow(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """`cartflow ARGS` in its own interpreter, and the packages it imported."""
    proc = subprocess.run([sys.executable, "-m", "cartflow.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "80", "PYTHONPROFILEIMPORTTIME": "1", **(env or {})})
    assert proc.returncode == 0, f"cartflow {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc, imported(proc.stderr)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project whose first run took a file through SQLMesh and published the marts."""
    root = tmp_path_factory.mktemp("light") / "shop"
    init_project(root)
    csv = write_csv(root / "landing" / "online_retail" / "day1.csv", ROWS)
    os.utime(csv, (csv.stat().st_atime - 3600, csv.stat().st_mtime - 3600))  # a finished export: no settling
    project = load_project(root)
    result = run_pipeline(project)
    assert result.status == "succeeded" and result.new_batches == 1, result.error
    return project


def test_a_run_with_nothing_new_imports_no_engine(ran: Project) -> None:
    proc, modules = cartflow("run", "--project", str(ran.root))
    said = " ".join(proc.stdout.split())  # lines wrap at 80 columns
    assert "nothing new to process" in said
    assert "holds only files taken by earlier runs" in said  # it did look at the inbox
    assert not modules & set(NOOP_HEAVY), f"a run with nothing new imported {sorted(modules & set(NOOP_HEAVY))}"
    assert "cartflow" in modules  # the log is read: the command's own package is in it


@pytest.mark.parametrize("args", [
    ("sql", SQL), ("sql", SQL, "--format", "json"), ("status",), ("runs",), ("catalog",),
    ("catalog", "--format", "json"), ("dlq", "list"), ("dlq", "list", "quarantine"), ("alerts", "list"),
], ids=lambda args: " ".join(a for a in args if a != SQL))
def test_reading_commands_import_no_engine(ran: Project, args: tuple[str, ...]) -> None:
    proc, modules = cartflow(*args, "--project", str(ran.root))
    assert not modules & set(HEAVY), f"cartflow {' '.join(args)} imported {sorted(modules & set(HEAVY))}"
    if args[0] == "sql":
        assert "1" in proc.stdout  # one month of revenue: the marts were really read


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("run", "--help"), ("sql", "--help")],
                         ids=" ".join)
def test_help_and_version_import_no_engine_and_no_config_schema(args: tuple[str, ...]) -> None:
    _, modules = cartflow(*args)
    assert not modules & set(HEAVY + ("duckdb", "pyarrow")), sorted(modules & set(HEAVY + ("duckdb", "pyarrow")))
    assert "cartflow.config" not in modules  # its pydantic models load with the first project, not for --help


def test_serve_with_its_consumers_and_send_import_no_engine(ran: Project, tmp_path: Path) -> None:
    from stream_fixtures import ApiServer

    server = ApiServer(ran.root, {"CARTFLOW_API_KEY": API_KEY, "CARTFLOW__STREAM__RAW_FLUSH_SECONDS": "0.5",
                                  "PYTHONPROFILEIMPORTTIME": "1"}).start()
    try:
        csv = write_csv(tmp_path / "more.csv", ["581587,22613,PACK OF 20 SPACEBOY NAPKINS,12,12/9/2011 12:50,0.85,"
                                                "12680,France"])
        proc, sent = cartflow("send", str(csv), "--url", server.url, env={"CARTFLOW_API_KEY": API_KEY})
        assert "accepted" in proc.stdout
        wait_until(lambda: server.get("/v1/invoices/581587").status_code == 200, timeout=60,
                   what="the sent line visible in the serving store")

        def landed() -> bool:
            state = open_state(ran)
            try:
                return any(m.source == ran.config.stream.source for m in state.manifests())
            finally:
                state.close()

        wait_until(landed, timeout=60, what="the raw sink's batch landed")
    finally:
        server.stop()
    served = imported(server.log_path.read_text(errors="replace"))  # type: ignore[union-attr]
    assert "cartflow" in served and "uvicorn" in served
    assert not served & set(HEAVY), f"cartflow serve imported {sorted(served & set(HEAVY))}"
    assert not sent & set(HEAVY), f"cartflow send imported {sorted(sent & set(HEAVY))}"
