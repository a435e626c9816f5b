"""The benchmark harness measures the command, not itself.

On Linux a child's `ru_maxrss` starts at its parent's high-water RSS (exec records the
memory it replaces), so a harness that spawns straight from a big driver reports the
driver's size for every small command. benchmarks/rusage.py launches each command from a
fresh, small interpreter instead. No timing is asserted: only what was measured, and that
a failing or hanging command is reported, not raised.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MIB = 2**20


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT))
    import benchmarks.harness

    return benchmarks.harness


def test_a_small_command_is_not_charged_the_drivers_memory(harness) -> None:
    ballast = bytearray(400 * MIB)
    for i in range(0, len(ballast), 4096):  # touch every page: resident, not just reserved
        ballast[i] = 1

    m = harness.run_command("small", [sys.executable, "-c", "x = bytearray(50 * 2**20); x[::4096] = b'1' * len(x[::4096])"])

    assert m.ok
    assert 50 * MIB <= m.peak_rss_bytes < 200 * MIB  # the child's ~60 MiB, not this process's 400+
    del ballast


def test_a_child_reports_its_json_and_failures_are_reported(harness) -> None:
    ok = harness.run_child("job", "benchmarks.rusage", [])  # no arguments: the launcher itself fails
    assert not ok.ok and ok.error

    m = harness.run_command("json", [sys.executable, "-c", "print('noise'); print('{\"rows\": 3}')"])
    assert m.ok and m.result == {"rows": 3}

    failed = harness.run_command("fails", [sys.executable, "-c", "import sys; sys.exit('no input files')"])
    assert not failed.ok and failed.error == "no input files"


def test_a_hanging_command_is_ended_with_its_children(harness, tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    script = ("import subprocess, sys, time; "
              f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
              f"open({str(marker)!r}, 'w').write(str(p.pid)); time.sleep(600)")
    m = harness.run_command("hangs", [sys.executable, "-c", script], timeout=5)

    assert not m.ok
    grandchild = int(marker.read_text())
    import psutil

    def gone() -> bool:
        try:
            return psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    assert _poll(gone), f"the command's child {grandchild} outlived the timeout"


def _poll(condition, attempts: int = 100) -> bool:
    import time

    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.1)
    return False
