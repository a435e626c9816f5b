"""What a new user sees in an 80-column terminal, on a small real project (issue 16).

One module-scoped project runs three times through the real CLI: a generated CSV, then
nothing new, then only batches the stream's raw sink landed. Every command runs as a
subprocess with COLUMNS=80, as a user's shell would start it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from cartflow.config import load_project
from cartflow.lake.storage import LocalStorage
from cartflow.runtime.state import SqliteState
from cartflow.sandbox.retail_generator import generate_online_retail
from cartflow.stream.deadletter import open_dead_letters
from cartflow.stream.raw_sink import RawSink
from cartflow.stream.records import parse_records, split_body
from cartflow.stream.sqlite_log import SqliteLog
from stream_fixtures import order_lines

STREAM_LINES = 40


def cli(*args: object, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LINES", "PAGER", "CARTFLOW_PAGER")}
    return subprocess.run([sys.executable, "-m", "cartflow.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**env, "COLUMNS": "80"})


@dataclass
class Shop:
    root: Path
    runs: list[subprocess.CompletedProcess]


def land_stream_batches(root: Path, n: int) -> None:
    """What `cartflow serve` does with POSTed lines: the event log, then the raw sink's NDJSON batches."""
    project = load_project(root)
    log = SqliteLog(root / ".cartflow" / "events.db", partitions=3)
    state = SqliteState(project.state_path)
    sink = RawSink(log, LocalStorage(project.lake_uri), state, root / ".cartflow" / "raw-sink.db",
                   source=project.config.stream.source, topic="cartflow.order-lines", flush_rows=15,
                   flush_seconds=3600, dedupe_seconds=3600, dead_letters=open_dead_letters(project))
    parsed = parse_records(split_body(json.dumps(order_lines(n, seed=5)).encode(), "application/json"))
    log.append(parsed.events)
    consumer = log.consumer("raw")
    consumer.on_assignment(lambda ps: sink.assigned(consumer, ps), lambda ps: sink.revoked(consumer, ps))
    handled = 0
    for _ in range(10_000):  # bounded: poll until every event reached the sink
        events = consumer.poll(sink.max_records, 0.05)
        if events:
            sink.handle(consumer, events)
            handled += len(events)
        sink.tick(consumer)
        if handled >= n and not events:
            break
    sink.close(consumer)  # flushes the last, partial batch
    consumer.close()
    state.close()
    log.close()
    assert handled == n


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    root = tmp_path_factory.mktemp("cli80") / "shop"
    assert cli("init", root).returncode == 0
    toml = root / "cartflow.toml"  # the generated file is complete: no quiet period to wait for
    toml.write_text(toml.read_text().replace("settle_seconds = 5", "settle_seconds = 0"))
    assert "settle_seconds = 0" in toml.read_text()
    generate_online_retail(root / "landing" / "online_retail", scale=0.004, seed=5)
    first = cli("run", "-p", root)
    assert first.returncode == 0, first.stderr
    second = cli("run", "-p", root)
    land_stream_batches(root, STREAM_LINES)
    third = cli("run", "-p", root)
    assert third.returncode == 0, third.stderr
    return Shop(root, [first, second, third])


TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?$")


def whole_values(data: object, skip: set[str]) -> set[str]:
    """Every id, code, number and timestamp in a command's JSON, as the table must show it."""
    found: set[str] = set()

    def walk(value: object, key: str | None = None) -> None:
        if key in skip:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, (int, float)):
            found.add(f"{value:,}" if isinstance(value, int) and key in COUNTS else str(value))
        elif isinstance(value, str) and TIMESTAMP.match(value):
            found.add(value.replace("T", " ", 1))  # tables show `2026-12-04 18:27:24`, JSON ISO 8601
        elif isinstance(value, str) and value and not re.search(r"\s", value) and len(value) <= 40:
            found.add(value)

    walk(data)
    return found


COUNTS = {"new_batches", "total", "this_run", "rows", "items"}  # counts show thousands separators


@pytest.mark.parametrize("args", [
    ("status",),
    ("runs",),
    ("sql", "SELECT * FROM mart_revenue_monthly ORDER BY period_start"),
    ("sql", "SELECT * FROM fct_order_line ORDER BY order_line_id LIMIT 4"),  # too wide for columns: records
    ("sql", "SELECT invoice_no, customer_id, stock_code, description, quantity, unit_price, net_amount "
            "FROM fct_order_line ORDER BY net_amount DESC, order_line_id LIMIT 8"),
    ("dlq", "list", "--limit", "6"),
], ids=["status", "runs", "sql-monthly", "sql-wide", "sql-text", "dlq-list"])
@pytest.mark.slow
def test_tables_at_80_columns_never_cut_an_id_or_a_number(shop: Shop, args: tuple[str, ...]) -> None:
    table = cli(*args, "-p", shop.root)
    data = cli(*args, "-p", shop.root, "--format", "json")
    assert table.returncode == 0 and data.returncode == 0, table.stderr + data.stderr
    flat = " ".join(table.stdout.split())
    note = re.search(r"not shown at 80 columns: ([^;]+);", flat)
    dropped = set(note.group(1).split(", ")) if note else set()
    assert dropped <= {"trigger", "error", "at", "source", "summary"}, dropped  # only low-value columns go
    expected = whole_values(json.loads(data.stdout), skip=dropped | {"detail"})  # dlq show prints the detail
    assert expected, "the JSON held nothing to check"
    missing = sorted(v for v in expected if not re.search(rf"(?<![\w.,]){re.escape(v)}(?![\w.,])", flat))
    assert not missing, f"cut or missing in the table: {missing}\n{table.stdout}"
    assert "…" not in table.stdout
    too_long = [line for line in table.stdout.splitlines() if len(line) > 80 and not line.startswith("  cartflow ")]
    assert not too_long, too_long


@pytest.mark.slow
def test_status_runs_and_dlq_list_also_print_csv_and_json(shop: Shop) -> None:
    ids = [r["run_id"] for r in json.loads(cli("runs", "-p", shop.root, "-f", "json").stdout)]
    assert len(ids) == 3
    rows = list(csv.DictReader(io.StringIO(cli("runs", "-p", shop.root, "-f", "csv").stdout)))
    assert [r["run_id"] for r in rows] == ids and all(r["status"] == "succeeded" for r in rows)
    status = json.loads(cli("status", "-p", shop.root, "-f", "json").stdout)
    assert {"runs", "layer_rows", "quarantine"} <= set(status)
    assert {r["layer"] for r in status["layer_rows"]} >= {"raw", "silver", "quarantine"}
    items = json.loads(cli("dlq", "list", "quarantine", "-p", shop.root, "-f", "json").stdout)
    dlq_csv = list(csv.DictReader(io.StringIO(cli("dlq", "list", "quarantine", "-p", shop.root, "-f", "csv").stdout)))
    assert items and [i["id"] for i in items] == [r["id"] for r in dlq_csv]
    bad = cli("runs", "-p", shop.root, "-f", "yaml")
    assert bad.returncode == 2 and "allowed values are table, csv, json" in bad.stderr


@pytest.mark.slow
def test_an_ambiguous_run_id_prefix_lists_the_matches(shop: Shop) -> None:
    ids = [r["run_id"] for r in json.loads(cli("runs", "-p", shop.root, "-f", "json").stdout)]
    prefix = os.path.commonprefix(ids)
    assert prefix and prefix not in ids
    out = cli("runs", prefix, "-p", shop.root)
    assert out.returncode == 2
    assert "3 runs start with" in out.stderr and all(i in out.stdout for i in ids)
    assert "Tasks" not in out.stdout
    one = cli("runs", ids[1][:-1], "-p", shop.root)  # a unique prefix still works
    assert one.returncode == 0 and f"run {ids[1]}" in one.stdout and "Tasks" in one.stdout


@pytest.mark.slow
def test_the_run_summary_says_rows_are_cumulative_beside_what_the_run_added(shop: Shop) -> None:
    first, _, third = shop.runs
    raw = int(re.search(r"^raw\s+([\d,]+)\s+\+([\d,]+)$", first.stdout, re.M).group(1).replace(",", ""))
    assert "Rows per layer (all runs so far)" in first.stdout and f"+{raw:,}" in first.stdout
    line = re.search(r"^raw\s+([\d,]+)\s+\+([\d,]+)$", third.stdout, re.M)
    assert line, third.stdout
    assert (line.group(1), line.group(2)) == (f"{raw + STREAM_LINES:,}", f"{STREAM_LINES}")


@pytest.mark.slow
def test_a_stream_only_run_names_the_streams_batches(shop: Shop) -> None:
    third = shop.runs[2]
    assert "storefront 3 streamed batch(es)" in " ".join(third.stdout.split()), third.stdout
    assert "0 new file" not in third.stdout + third.stderr


@pytest.mark.slow
def test_progress_labels_are_short_and_fixed(shop: Shop) -> None:
    log = (shop.root / ".cartflow" / "logs" / "cartflow.jsonl").read_text()
    details = [json.loads(line) for line in log.splitlines() if '"cartflow.progress"' in line]
    assert any(d["msg"].startswith("silver + gold (SQLMesh): evaluated ") for d in details)  # details: in the log
    assert {d["stage"] for d in details} <= {"extract", "bronze", "transform", "publish", "serving"}


@pytest.mark.slow
def test_nothing_new_says_the_files_were_taken_before(shop: Shop) -> None:
    second = shop.runs[1]
    assert "nothing new to process" in second.stdout
    assert "holds only files taken by earlier runs" in " ".join(second.stdout.split())


@pytest.mark.slow
def test_sql_keeps_exact_values_unless_asked_for_money(shop: Shop) -> None:
    statement = "SELECT sum(net_revenue) AS net, sum(orders) AS orders FROM mart_revenue_monthly"
    exact = json.loads(cli("sql", statement, "-p", shop.root, "-f", "json").stdout)[0]
    assert re.fullmatch(r"-?\d+\.\d{3}", exact["net"])  # DECIMAL(18,3), as stored
    plain = cli("sql", statement, "-p", shop.root)
    assert exact["net"] in plain.stdout
    money = cli("sql", statement, "-p", shop.root, "--money")
    net = Decimal(exact["net"])
    places = 2 if net == net.quantize(Decimal("0.01")) else 3
    assert format(net.quantize(Decimal(1).scaleb(-places)), ",") in money.stdout
    assert "GBP" in money.stdout and f"{exact['orders']}" in money.stdout


@pytest.mark.slow
def test_an_unknown_table_lists_the_published_ones_not_duckdb_internals(shop: Shop) -> None:
    out = cli("sql", "SELECT * FROM nope", "-p", shop.root)  # DuckDB would guess one of its own pg_ tables
    assert out.returncode == 1
    assert "pg_" not in out.stderr and "mart_revenue_monthly" in out.stderr


@pytest.mark.slow
def test_an_empty_landing_folder_says_where_to_put_files(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    assert cli("init", root).returncode == 0
    run = cli("run", "-p", root)
    assert run.returncode == 0, run.stderr
    text = " ".join(run.stdout.split())
    assert "landing/online_retail/ is empty — drop CSV files there" in text
    assert f"  cartflow run --project {os.path.relpath(root)}" in run.stdout.splitlines() \
        or f"  cartflow run --project {root}" in run.stdout.splitlines()
    sql = cli("sql", "SELECT * FROM fct_order", "-p", root)
    assert sql.returncode == 1
    assert "pg_" not in sql.stderr and "none yet" not in sql.stderr
    assert "found no new data, so it published nothing" in sql.stderr
