"""Comparison 4: streaming ingest and serving, on 127.0.0.1.

`cartflow serve` (API + consumers, one process) runs in a child process; the load comes from
another child process (`benchmarks.stream_client`, a bounded httpx async client):

* POST /v1/order-lines in batches of 500 (4 in flight): events accepted per second;
* POST-to-visible: every 10th batch carries a probe line with a fresh invoice number, and
  the client polls GET /v1/invoices/{no} until it answers 200;
* paced, each for 10 s on a fixed schedule: 2,000 events/s in batches of 100, every batch a
  probe (POST-to-visible below saturation), then issue 15's 20,000 events/s in batches of
  500, every 4th batch a probe;
* GET /v1/invoices/{no} on known invoices, 32 in flight for 15 s: requests/s, p50, p99,
  measured by the Python client and, when `wrk` is on PATH (Debian: `apt-get install wrk`),
  by wrk (C, one thread, whose own cost is far below the server's) against `cartflow serve`
  with 1 and with 2 worker processes, at 32 and at 4 connections.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, run_child

API_KEY = "bench-key"
SETUPS = (
    ("one process: cartflow serve (API + both consumers)", False),
    ("three processes: serve --no-consumers, consume --only serving, consume --only raw", True),
)
CARTFLOW = str(Path(sys.executable).parent / "cartflow")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(work: Path, events: int = 100_000) -> dict[str, Any]:
    from cartflow.sandbox.retail_generator import generate_online_retail

    data = work / "data-s1"
    if not any(data.glob("*.csv")):
        data.mkdir(parents=True, exist_ok=True)
        generate_online_retail(data, 1, 7)
    csv = sorted(data.glob("*.csv"))[0]
    setups: list[dict[str, Any]] = []
    first = None
    for name, split in SETUPS:
        project = work / f"stream-project{'-split' if split else ''}"
        shutil.rmtree(project, ignore_errors=True)
        subprocess.run([CARTFLOW, "init", str(project)], check=True, capture_output=True, cwd=ROOT)
        port = _free_port()
        procs = [_serve(work, project, port, workers=1, consumers=not split)]
        if split:
            procs += [_consume(work, project, sink) for sink in ("serving", "raw")]
        try:
            m = run_child(f"stream client ({name})", "benchmarks.stream_client",
                          [f"http://127.0.0.1:{port}", str(csv), str(events), API_KEY], timeout=900)
        finally:
            for proc in procs:
                _stop(proc)
        setups.append({"setup": name, "ok": m.ok, "error": m.error, **m.result})
        if first is None:
            first = m
    m = first
    project = work / "stream-project"
    wrk: list[dict[str, Any]] = []
    if shutil.which("wrk"):  # the serving figures do not depend on the stream client having finished
        for workers in (1, 2):  # one uvicorn process, then one per core
            port = _free_port()
            server = _serve(work, project, port, workers=workers)
            try:
                _wait_ready(port)
                for connections in (32, 4):
                    wrk.append({"workers": workers, **_wrk(work, f"http://127.0.0.1:{port}", csv, events,
                                                           connections=connections)})
            finally:
                _stop(server)
    if not m.ok:
        return {"ok": False, "error": m.error, "setups": setups, "wrk": wrk}
    return {"ok": True, **m.result, "client_peak_rss_mib": round(m.peak_rss_bytes / 2**20), "wrk": wrk,
            "setups": setups}


def _serve(work: Path, project: Path, port: int, workers: int, consumers: bool = True) -> subprocess.Popen:
    env = {**os.environ, "CARTFLOW_API_KEY": API_KEY}
    return subprocess.Popen(
        [CARTFLOW, "serve", "--project", str(project), "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--consumers" if consumers else "--no-consumers"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=open(work / f"serve-{workers}.log", "ab"))


def _consume(work: Path, project: Path, sink: str) -> subprocess.Popen:
    return subprocess.Popen([CARTFLOW, "consume", "--project", str(project), "--only", sink], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=open(work / f"consume-{sink}.log", "ab"))


def _wait_ready(port: int, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code in (200, 503):
                time.sleep(3)  # let every worker finish starting
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"cartflow serve on port {port} never answered /v1/health")


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()


def _wrk(work: Path, url: str, csv: Path, events: int, seconds: int = 10, connections: int = 32) -> dict[str, Any]:
    """GET /v1/invoices/{no} over a rotating list of invoices the stream just loaded, with wrk."""
    from benchmarks.stream_client import load_lines

    invoices = sorted({line["InvoiceNo"] for line in load_lines(str(csv), events)})[:2000]
    script = work / "invoices.lua"
    paths = ",".join(f'"/v1/invoices/{no}"' for no in invoices)
    script.write_text(
        f"local paths = {{{paths}}}\nlocal i = 0\nwrk.headers['X-API-Key'] = '{API_KEY}'\n"
        "request = function()\n  i = i + 1\n  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", out, re.M))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {"connections": connections, "threads": 1, "seconds": seconds,
            "requests": int(total.group(1)) if total else None,
            "rps": round(float(rps.group(1))) if rps else None,
            "p50_ms": _ms(latency.get("50")), "p90_ms": _ms(latency.get("90")), "p99_ms": _ms(latency.get("99")),
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0}


def _ms(value: str | None) -> float | None:
    """wrk's '812.00us' / '1.23ms' / '1.02s' in milliseconds."""
    if not value:
        return None
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return round(float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)
