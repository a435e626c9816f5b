"""Comparison 4: streaming ingest and serving, on 127.0.0.1.

`cartflow serve` (API + consumers, one process) runs in a child process; the load comes from
another child process (`benchmarks.stream_client`, a bounded httpx async client):

* POST /v1/order-lines in batches of 500 (4 in flight): events accepted per second;
* POST-to-visible: every 10th batch carries a probe line with a fresh invoice number, and
  the client polls GET /v1/invoices/{no} until it answers 200;
* GET /v1/invoices/{no} on known invoices, 32 in flight for 15 s: requests/s, p50, p99.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, run_child

API_KEY = "bench-key"
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
    project = work / "stream-project"
    shutil.rmtree(project, ignore_errors=True)
    subprocess.run([CARTFLOW, "init", str(project)], check=True,
                   capture_output=True, cwd=ROOT)
    port = _free_port()
    env = {**os.environ, "CARTFLOW_API_KEY": API_KEY}
    server = subprocess.Popen(
        [CARTFLOW, "serve", "--project", str(project), "--host", "127.0.0.1",
         "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "serve.log", "wb"))
    try:
        m = run_child("stream client", "benchmarks.stream_client",
                      [f"http://127.0.0.1:{port}", str(csv), str(events), API_KEY], timeout=900)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    if not m.ok:
        return {"ok": False, "error": m.error}
    return {"ok": True, **m.result, "client_peak_rss_mib": round(m.peak_rss_bytes / 2**20)}
