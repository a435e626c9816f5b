"""The CLI's surface without a pipeline run (issue 16): tables, money, progress labels, hints,
paging, --version, warnings, config errors, report file mode, scheduler, watch and serve logs."""

from __future__ import annotations

import json
import logging
import os
import re
import select
import subprocess
import sys
import time
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cartflow.cli import app
from cartflow.config import ConfigError, load_project, parse_config
from cartflow.console import COUNT, ID, MONEY, TEXT, BarReporter, Col, FitTable, format_money, print_table
from cartflow.runtime.progress import LABELS
from cartflow.scaffold import init_project


def cli(*args: object, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("LINES", "PAGER", "CARTFLOW_PAGER")}
    return subprocess.run([sys.executable, "-m", "cartflow.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**base, "COLUMNS": "80", **(env or {})})


def render(table: FitTable, width: int = 80) -> str:
    out = Console(width=width, record=True, file=open(os.devnull, "w"))
    print_table(table, out)
    return out.export_text()


# -- tables ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_too_wide_table_drops_whole_low_value_columns_and_says_so() -> None:
    rows = [("20261204T182724-9c307f", 123456789, "a long error message " * 4, "manual")]
    cols = [Col("run", ID), Col("rows", COUNT), Col("error", TEXT, drop=1, min_width=30), Col("trigger", TEXT, drop=2)]
    narrow = render(FitTable("Runs", cols, rows), width=40)
    assert "20261204T182724-9c307f" in narrow and "123,456,789" in narrow
    assert "trigger" in narrow.split("not shown")[1] and "error" in narrow.split("not shown")[1]
    wide = render(FitTable("Runs", cols, rows, wide=True), width=40)
    assert "manual" in wide and "not shown" not in wide
    assert max(len(line) for line in render(FitTable("Runs", cols, rows), width=80).splitlines()) <= 80


def test_numbers_are_never_cut_headers_break_at_underscores_and_else_records() -> None:
    cols = ["period_start", "gross_sales", "returns", "net_revenue", "orders", "customers", "avg_order_value"]
    row = ("2011-12-01", Decimal("189232.210"), Decimal("168615.470"), Decimal("20616.740"), 26, 18,
           Decimal("7278.162"))
    text = render(FitTable("t", cols, [row]))
    for value in row:
        assert str(value) in text
    assert "avg_" in text and "order_" in text and "…" not in text
    many = render(FitTable("t", [f"column_{i}" for i in range(12)], [tuple(range(10**6, 10**6 + 12))]))
    assert "-[ record 1 ]" in many and all(str(10**6 + i) in many for i in range(12))


def test_money_reads_like_money_in_the_currencys_minor_unit() -> None:
    assert format_money(Decimal("13178.000"), "GBP") == "13,178.00"
    assert format_money(Decimal("-1234567.5"), "USD") == "-1,234,567.50"
    assert format_money(Decimal("13178.000"), "JPY") == "13,178"
    assert format_money(Decimal("0.125"), "EUR") == "0.125"  # a stored digit is never rounded away
    text = render(FitTable("t", [Col("net", MONEY, header="net\nGBP")], [(Decimal("1.100"),), (Decimal("25000"),)],
                           currency="GBP"))
    assert "GBP" in text and "1.10" in text and "25,000.00" in text
    right = [line for line in text.splitlines() if "1.10" in line or "25,000.00" in line]
    assert len({len(line.rstrip()) for line in right}) == 1  # right-aligned


# -- progress -------------------------------------------------------------------------------------

def test_progress_bars_have_short_fixed_labels_and_details_go_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    from cartflow.runtime.logs import reset_logging

    reset_logging()  # records reach caplog through the root logger
    bars = BarReporter()  # never started: nothing is drawn, the tasks are inspected
    with caplog.at_level(logging.INFO, logger="cartflow.progress"):
        for name in ("extract a_source_with_a_really_long_name", "extract second_source"):
            s = bars.stage(name, total=2)
            s.advance(detail="file_one.csv")
            s.done("2 new file(s)")
        t = bars.stage("silver + gold (SQLMesh)")
        t.advance(detail="evaluated silver.stg_order_lines in 1.37s (0 audits passed)")
        t.done()
        bars.stage("restate 2010-12-01..2010-12-31 (SQLMesh)").done()
        bars.stage("serving store").done()
    labels = [task.description for task in bars.progress.tasks]
    assert labels == ["extract", "transform", "serving"] and set(labels) <= set(LABELS)
    assert bars.progress.tasks[0].total == 4 and bars.progress.tasks[0].completed == 4  # two sources, one bar
    assert "evaluated silver.stg_order_lines in 1.37s" in caplog.text and "2 new file(s)" in caplog.text
    line = Console(width=80, record=True, file=open(os.devnull, "w"))
    line.print(bars.progress.get_renderable())
    assert line.export_text().splitlines()[0].count("━") >= 30  # the bar keeps its width


# -- hints, version, warnings ----------------------------------------------------------------------

def test_hints_print_commands_whole_on_their_own_line(tmp_path: Path) -> None:
    root = tmp_path / "a-project-directory-with-a-rather-long-name" / "shop"
    out = cli("init", root)
    assert out.returncode == 0
    assert f"  cartflow run --project {root}" in out.stdout.splitlines()


def test_version() -> None:
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"cartflow {version('cartflow')}"


WARN_THEN_RUN = """
import sys, platformdirs
import cartflow.pipeline.run as run
from cartflow.cli import app
original = run.run_pipeline  # `cartflow run` imports it when it runs: a library warns during the command
def run_pipeline(*args, **kwargs):
    platformdirs.user_runtime_dir("cartflow-test")  # RuntimeDirWarning: XDG_RUNTIME_DIR is not set
    return original(*args, **kwargs)
run.run_pipeline = run_pipeline
sys.argv = ["cartflow", "run", "-p", sys.argv[1]]
app()
"""


@pytest.mark.slow
def test_a_library_warning_goes_to_the_log_file_not_the_terminal(tmp_path: Path) -> None:
    init_project(tmp_path / "shop")
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    out = subprocess.run([sys.executable, "-c", WARN_THEN_RUN, str(tmp_path / "shop")], capture_output=True,
                         text=True, timeout=180, env={**env, "COLUMNS": "80"})
    assert out.returncode == 0, out.stderr
    assert "Warning" not in out.stderr + out.stdout and "XDG_RUNTIME_DIR" not in out.stderr
    logged = (tmp_path / "shop" / ".cartflow" / "logs" / "cartflow.jsonl").read_text()
    assert "RuntimeDirWarning" in logged and "XDG_RUNTIME_DIR is not set" in logged


# -- config errors -----------------------------------------------------------------------------------

def test_config_errors_name_env_vars_show_examples_and_suggest_keys(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    init_project(tmp_path)
    toml = tmp_path / "cartflow.toml"
    toml.write_text(toml.read_text().replace('memory_limit = "2GB"', 'memory_limit = "lots"\nengin = "duckdb"'))
    monkeypatch.setenv("CARTFLOW__LAKE__RAW_RETENTION", "forever")
    monkeypatch.setenv("CARTFLOW__LOGGING__LEVL", "DEBUG")
    with pytest.raises(ConfigError) as err:
        load_project(tmp_path)
    lines = {line.split(" = ")[0].strip(): line for line in str(err.value).splitlines()[1:]}
    assert "CARTFLOW__LAKE__RAW_RETENTION" in lines["lake.raw_retention"]
    assert "'keep'" in lines["lake.raw_retention"] and lines["lake.raw_retention"].count("'keep'") == 1
    assert "CARTFLOW__LAKE" not in lines["warehouse.memory_limit"]  # from the file, not the environment
    assert '"2GB"' in lines["warehouse.memory_limit"] and "[KMGT]" not in lines["warehouse.memory_limit"]
    assert "did you mean 'engine'?" in lines["warehouse.engin"]
    assert "did you mean 'level'?" in lines["logging.levl"] and "CARTFLOW__LOGGING__LEVL" in lines["logging.levl"]
    with pytest.raises(ConfigError, match=r"sources\.s\.entty = 'x': unknown key; did you mean 'entity'\?"):
        parse_config({"sources": {"s": {"kind": "files", "path": "x", "entty": "x"}}})
    assert "(allowed:" not in str(err.value)


def test_every_pattern_in_the_schema_has_an_example() -> None:
    from pydantic import BaseModel

    from cartflow import config
    from cartflow.config import errors as config_errors

    patterns = set()
    for model in vars(config).values():
        if isinstance(model, type) and issubclass(model, BaseModel):
            for field in model.model_fields.values():
                patterns |= {getattr(m, "pattern", None) for m in field.metadata} - {None}
    assert patterns and patterns <= set(config_errors.PATTERN_EXAMPLES)


# -- report, scheduler, watch, serve --------------------------------------------------------------

@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_report_respects_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    init_project(tmp_path / "shop")
    previous = os.umask(umask)
    try:
        out = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "r.html"), "-p", str(tmp_path / "shop")])
    finally:
        os.umask(previous)
    assert out.exit_code == 0, out.output
    assert (tmp_path / "r.html").stat().st_mode & 0o777 == mode


def test_a_scheduler_without_jobs_says_so_and_exits(tmp_path: Path) -> None:
    init_project(tmp_path / "shop")
    out = cli("scheduler", "-p", tmp_path / "shop", timeout=60)
    assert out.returncode == 0 and "no jobs to schedule" in out.stdout
    assert '  cron = "0 2 * * *"' in out.stdout.splitlines()


def test_the_scheduler_says_what_it_schedules_and_what_is_due_next(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    init_project(root)
    (root / "cartflow.toml").write_text((root / "cartflow.toml").read_text()
                                        + '\n[schedule.jobs.nightly]\ncron = "0 2 * * *"\n')
    once = cli("scheduler", "--once", "-p", root)
    assert once.returncode == 0, once.stderr
    assert re.search(r"nightly\s+0 2 \* \* \*\s+next \d{4}-\d\d-\d\d 02:00:00", once.stdout)
    assert re.search(r"nothing was due now; next due: nightly at \d{4}-\d\d-\d\d 02:00:00", once.stdout)
    jobs = json.loads(cli("scheduler", "--list", "-p", root, "-f", "json").stdout)
    assert [(j["job"], j["last_run"], j["last_run_id"]) for j in jobs] == [("nightly", None, None)]  # never ran
    assert "never ran" in once.stdout


@pytest.mark.slow
def test_watch_says_what_it_watches(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    init_project(root)
    (root / "landing" / "online_retail" / "empty.csv").write_bytes(b"")
    out = cli("watch", "-p", root, "--debounce", "0.1", "--poll", "0.1", "--max-runs", "1")
    assert out.returncode == 0, out.stderr
    assert "watching 2 folder(s) for new files" in " ".join(out.stdout.split())
    assert f"online_retail: {root / 'landing' / 'online_retail'}/" in out.stdout


def test_serve_logs_in_cartflows_format(tmp_path: Path) -> None:
    from kafka_broker import free_port

    init_project(tmp_path / "shop")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cartflow.cli", "serve", "-p", str(tmp_path / "shop"), "--port",
                             str(port), "--no-consumers"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("Uvicorn running" in line for line in lines):
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if ready:
                line = proc.stdout.readline()
                if not line and proc.poll() is not None:
                    break
                lines.append(line.rstrip("\n"))
    finally:
        proc.terminate()
        rest, _ = proc.communicate(timeout=60)
    lines += rest.splitlines()
    assert any("Uvicorn running" in line for line in lines), lines
    assert not [line for line in lines if line.startswith("INFO:")], lines
    uvicorn = [line for line in lines if "uvicorn" in line]
    assert uvicorn and all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [A-Z]+ \[run -\] uvicorn\.", line)
                           for line in uvicorn), uvicorn


@pytest.mark.slow
def test_long_output_is_paged_on_a_terminal_and_never_when_piped(tmp_path: Path) -> None:
    root, paged = tmp_path / "shop", tmp_path / "paged.txt"
    init_project(root)
    pager = tmp_path / "pager.sh"
    pager.write_text(f"#!/bin/sh\ncat > {paged}\n")
    pager.chmod(0o755)
    env = {"PAGER": str(pager), "LINES": "20"}

    def on_a_terminal(statement: str) -> int:
        master, slave = os.openpty()
        try:
            out = subprocess.run([sys.executable, "-m", "cartflow.cli", "sql", statement, "-p", str(root)],
                                 stdout=slave, stderr=subprocess.PIPE, timeout=120,
                                 env={**os.environ, "COLUMNS": "80", **env})
        finally:
            os.close(slave)
            os.close(master)
        return out.returncode

    assert on_a_terminal("SELECT range AS n FROM range(100)") == 0
    assert "99" in paged.read_text()  # taller than the screen: paged
    paged.unlink()
    assert on_a_terminal("SELECT 42 AS n") == 0
    assert not paged.exists()  # fits the screen: printed as is
    piped = cli("sql", "SELECT range AS n FROM range(100)", "-p", root, env=env)
    assert piped.returncode == 0 and "99" in piped.stdout and not paged.exists()
