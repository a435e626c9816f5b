"""Run one implementation in a child process; measure wall time and peak RSS.

Peak RSS is the larger of: the child's own ru_maxrss from `os.wait4` (which on Linux also
covers its waited-for descendants), and the peak of the summed RSS of the child's
process tree polled with psutil every 100 ms (this catches Spark's JVM, which the
Python driver does not always reap before exiting).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import psutil
except ImportError:  # pragma: no cover - psutil is optional
    psutil = None

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_rss_bytes: int
    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def _poll_tree(pid: int, stop: threading.Event, peak: list[int]) -> None:
    if psutil is None:
        return
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        total = 0
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        peak[0] = max(peak[0], total)
        stop.wait(0.1)


def run_child(name: str, module: str, args: list[str], timeout: float = 3600) -> Measurement:
    """`python -m <module> <args>`; the child prints one JSON object as its last stdout line."""
    cmd = [sys.executable, "-m", module, *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    stop, peak = threading.Event(), [0]
    poller = threading.Thread(target=_poll_tree, args=(proc.pid, stop, peak), daemon=True)
    poller.start()
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    readers = [threading.Thread(target=lambda s=s, b=b: b.append(s.read()), daemon=True)
               for s, b in ((proc.stdout, out_chunks), (proc.stderr, err_chunks))]
    for r in readers:
        r.start()
    killer = threading.Timer(timeout, proc.kill)  # a benchmark never hangs `make bench`
    killer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    killer.cancel()
    stop.set()
    poller.join()
    for r in readers:
        r.join()
    stdout = b"".join(out_chunks).decode(errors="replace")
    stderr = b"".join(err_chunks).decode(errors="replace")
    rss = max(usage.ru_maxrss * 1024, peak[0])
    result: dict[str, Any] = {}
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                result = json.loads(line)
                break
            except ValueError:
                pass
    ok = proc.returncode == 0 and bool(result)
    error = "" if ok else (stderr.strip().splitlines() or ["no output"])[-1][:300]
    if not ok:
        sys.stderr.write(f"[bench] {name} failed (exit {proc.returncode}):\n{stderr[-3000:]}\n")
    return Measurement(name, seconds, rss, ok, result, error)


def emit(result: dict[str, Any]) -> None:
    """What a child prints last: its result as one JSON line."""
    sys.stdout.write("\n" + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
