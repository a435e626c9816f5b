"""Run one implementation in a child process; measure wall time and peak RSS.

Each command runs under a small launcher (benchmarks/rusage.py, a fresh interpreter of
~10 MiB) that forks it, times it and reads its `ru_maxrss` from `os.wait4` (which on
Linux also covers its waited-for descendants); without the launcher a child's figure
starts at this driver's own peak RSS. Peak RSS is the larger of that and the peak of the
summed RSS of the command's process tree polled with psutil every 100 ms (this catches
Spark's JVM, which the Python driver does not always reap before exiting). Wall time is
the launcher's, from fork to reap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
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


LAUNCHER = Path(__file__).with_name("rusage.py")


def _poll_tree(pid: int, stop: threading.Event, peak: list[int]) -> None:
    """Peak summed RSS of the launcher's descendants (the command's tree, not the launcher)."""
    if psutil is None:
        return
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        total = 0
        try:
            procs = root.children(recursive=True)
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
    return run_process(name, [sys.executable, "-m", module, *args], timeout=timeout)


def run_command(name: str, cmd: list[str], timeout: float = 3600) -> Measurement:
    """Any command (e.g. the `cartflow` CLI): ok when it exits 0; `result` is whatever JSON it printed last."""
    return run_process(name, cmd, timeout=timeout, want_json=False)


def run_process(name: str, cmd: list[str], timeout: float = 3600, want_json: bool = True) -> Measurement:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.NamedTemporaryFile(prefix="cartflow-bench-", suffix=".json", delete=False) as f:
        report = Path(f.name)
    start = time.perf_counter()
    # its own session, so a timeout ends the command's whole tree, not only the launcher
    proc = subprocess.Popen([sys.executable, "-S", str(LAUNCHER), str(report), *cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT, env=env, start_new_session=True)
    stop, peak = threading.Event(), [0]
    poller = threading.Thread(target=_poll_tree, args=(proc.pid, stop, peak), daemon=True)
    poller.start()
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    readers = [threading.Thread(target=lambda s=s, b=b: b.append(s.read()), daemon=True)
               for s, b in ((proc.stdout, out_chunks), (proc.stderr, err_chunks))]
    for r in readers:
        r.start()
    killer = threading.Timer(timeout, _kill_group, args=(proc.pid,))  # a benchmark never hangs `make bench`
    killer.start()
    proc.wait()
    wall = time.perf_counter() - start
    killer.cancel()
    stop.set()
    poller.join()
    for r in readers:
        r.join()
    try:
        launched = json.loads(report.read_text() or "{}")
    except (OSError, ValueError):
        launched = {}
    report.unlink(missing_ok=True)
    returncode = launched.get("exit_code", proc.returncode)
    seconds = launched.get("seconds", wall)
    stdout = b"".join(out_chunks).decode(errors="replace")
    stderr = b"".join(err_chunks).decode(errors="replace")
    rss = max(launched.get("maxrss_bytes", 0), peak[0])
    result: dict[str, Any] = {}
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                result = json.loads(line)
                break
            except ValueError:
                pass
    ok = returncode == 0 and (bool(result) or not want_json)
    error = "" if ok else (stderr.strip().splitlines() or ["no output"])[-1][:300]
    if not ok:
        sys.stderr.write(f"[bench] {name} failed (exit {returncode}):\n{stderr[-3000:]}\n")
    return Measurement(name, seconds, rss, ok, result, error)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def compile_bytecode() -> dict[str, Any]:
    """Write the bytecode caches of the virtualenv and src/ before anything is timed.

    Python reads `__pycache__` even when PYTHONDONTWRITEBYTECODE is set, but then never
    writes it: on a machine with that variable set (this one) every process would compile
    every module it imports from source, about 900 for SQLMesh, which doubled a no-op
    `cartflow run` here. A user's installed environment has its caches after the first run,
    so the benchmarks measure with them. Up-to-date files are skipped, so this is quick after
    the first time.
    """
    dirs = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], str(ROOT / "src")})
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *dirs], capture_output=True, text=True)
    return {"seconds": round(time.perf_counter() - start, 1), "ok": proc.returncode == 0,
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", "")}


def emit(result: dict[str, Any]) -> None:
    """What a child prints last: its result as one JSON line."""
    sys.stdout.write("\n" + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
