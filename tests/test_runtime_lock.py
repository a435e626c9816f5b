"""The run lock itself: exactly one holder under a real race, stale-lock recovery, no deleting what you did not read."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from cartflow.runtime.lock import LockHeld, RunLock

PROCESSES = 4
TRIALS = 40


def _contend(path: str, start, tried, outcome) -> None:
    """One contender: all start together; the winner holds until every contender has tried."""
    lock = RunLock(Path(path), f"run-{os.getpid()}")
    start.wait()
    try:
        lock.acquire()
    except LockHeld:
        outcome.put("held")
        tried.wait()
        return
    outcome.put("won")
    tried.wait()  # every other contender has tried while this one held the lock
    lock.release()


def test_exactly_one_of_n_racing_processes_takes_the_lock(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    doubles = []
    for trial in range(TRIALS):
        path = tmp_path / f"run-{trial}.lock"
        start, tried, outcome = ctx.Barrier(PROCESSES), ctx.Barrier(PROCESSES), ctx.Queue()
        procs = [ctx.Process(target=_contend, args=(str(path), start, tried, outcome)) for _ in range(PROCESSES)]
        for p in procs:
            p.start()
        results = [outcome.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        if results.count("won") != 1:
            doubles.append((trial, results))
        assert not path.exists(), "the winner removed its lock on release"
    assert doubles == [], f"{len(doubles)} of {TRIALS} trials did not have exactly one holder: {doubles[:3]}"


def _hold_then_wait(path: str, held) -> None:
    lock = RunLock(Path(path), "crashed-run")
    lock.acquire()
    held.set()
    time.sleep(600)  # killed long before this ends


def test_a_lock_left_by_a_killed_process_is_recovered_with_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    ctx = multiprocessing.get_context("fork")
    held = ctx.Event()
    child = ctx.Process(target=_hold_then_wait, args=(str(path), held))
    child.start()
    try:
        assert held.wait(60)
        with pytest.raises(LockHeld) as refused:  # alive: refused, naming the holder
            RunLock(path, "second").acquire()
        assert f"pid {child.pid}" in str(refused.value) and "crashed-run" in str(refused.value)
        assert refused.value.holder is not None and refused.value.holder.pid == child.pid
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=60)
    finally:
        if child.is_alive():
            child.kill()
    left = json.loads(path.read_text())
    assert (left["pid"], left["host"], left["run_id"]) == (child.pid, socket.gethostname(), "crashed-run")
    assert left["started_at"]

    lock = RunLock(path, "recovering")
    lock.acquire()
    try:
        assert lock.recovered is not None
        assert (lock.recovered.pid, lock.recovered.run_id) == (child.pid, "crashed-run")
        assert json.loads(path.read_text())["run_id"] == "recovering"
    finally:
        lock.release()
    assert not path.exists()

    again = RunLock(path, "clean")
    with again:
        assert again.recovered is None, "a cleanly released lock is not a crash"


def test_a_half_written_lock_of_a_live_holder_is_never_deleted(tmp_path: Path) -> None:
    """The old race: the holder created the file and had not written itself yet."""
    path = tmp_path / "run.lock"
    holder = RunLock(path, "holder")
    holder.acquire()
    try:
        path.write_text("")  # as if caught between create and write
        with pytest.raises(LockHeld):
            RunLock(path, "intruder").acquire()
        assert path.exists()
    finally:
        holder.release()


def _hold_fork_and_die(path: str, worker_pid: str) -> None:
    """Take the lock, fork a long-lived worker, then die without releasing (like kill -9)."""
    lock = RunLock(Path(path), "forking-run")
    lock.acquire()
    worker = os.fork()
    if worker == 0:
        time.sleep(600)
        os._exit(0)
    Path(worker_pid).write_text(str(worker))
    os._exit(0)


def test_a_forked_worker_does_not_keep_the_lock_of_its_dead_parent(tmp_path: Path) -> None:
    """SQLMesh forks a process pool while the run holds the lock: the lock dies with the run, not the pool."""
    path = tmp_path / "run.lock"
    ctx = multiprocessing.get_context("fork")
    parent = ctx.Process(target=_hold_fork_and_die, args=(str(path), str(tmp_path / "worker.pid")))
    parent.start()
    deadline = time.monotonic() + 60
    while parent.exitcode is None:  # not join(): the worker holds the sentinel pipe open
        assert time.monotonic() < deadline, "the lock holder never exited"
        time.sleep(0.05)
    worker = int((tmp_path / "worker.pid").read_text())
    try:
        os.kill(worker, 0)  # the worker outlived its parent
        with RunLock(path, "next") as nxt:
            assert nxt.recovered is not None and nxt.recovered.run_id == "forking-run"
    finally:
        os.kill(worker, signal.SIGKILL)
