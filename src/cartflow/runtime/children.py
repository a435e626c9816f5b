"""Processes forked during a run die with it, even when it is killed with `kill -9`.

Why: SQLMesh loads models in a `ProcessPoolExecutor` with the *fork* start method (one
worker per CPU, ~160-210 MB each, each holding copies of the run's open files, the
state database among them). Killed with SIGKILL, the run cannot shut its pool down,
and the workers wait forever on a queue whose writing end they hold themselves.

On Linux a forked child asks the kernel for SIGKILL when its parent dies
(`prctl(PR_SET_PDEATHSIG)`), and checks that the parent did not die before it asked.
Only forks made while a run is inside `children_die_with_run()` are affected. The
kernel sends the signal when the *thread* that forked exits; cartflow's pools live
within one call of the thread running the run, so that is the run's lifetime. Other
systems keep the old behaviour (no portable equivalent).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_active = 0
_guard = threading.Lock()
_parent: int | None = None
_libc: ctypes.CDLL | None = None
_installed = False


def _before_fork() -> None:
    global _parent
    _parent = os.getpid() if _active else None


def _in_child() -> None:
    global _active
    parent, _active = _parent, 0  # the child's own forks are not the run's, unless it starts one
    if parent is None or _libc is None:
        return
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before we asked: nobody would send the signal
        os.kill(os.getpid(), signal.SIGKILL)


def _install() -> bool:
    global _libc, _installed
    if _installed:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl  # noqa: B018 - fail here, not in a child
    except (OSError, AttributeError):
        return False
    os.register_at_fork(before=_before_fork, after_in_child=_in_child)
    _installed = True
    return True


@contextmanager
def children_die_with_run() -> Iterator[None]:
    """Within the block, every process this one forks gets SIGKILL when this process dies."""
    global _active
    with _guard:
        if _install():
            _active += 1
    try:
        yield
    finally:
        with _guard:
            _active = max(0, _active - 1)
