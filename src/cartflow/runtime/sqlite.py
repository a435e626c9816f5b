"""Open the embedded SQLite files (state, logs, sinks, serving store) one way, safe under concurrency."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 30.0


def connect(path: Path | str, *, timeout: float = BUSY_TIMEOUT_SECONDS) -> sqlite3.Connection:
    """A WAL-mode, synchronous=FULL, autocommit connection that waits out other processes.

    FULL: the WAL is fsynced at each commit, so what a caller acknowledges is durable.

    Switching a file to WAL needs an exclusive lock, and SQLite answers `database is locked`
    at once, without calling the busy handler, when two processes open a new file at the same
    moment (a scheduler and a run, two consumers). The switch is retried until `timeout`;
    once a file is in WAL mode it stays so and the retry is never needed again.
    """
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=timeout)
    db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    deadline, pause = time.monotonic() + timeout, 0.01
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            contended = "locked" in str(exc) or "busy" in str(exc)
            if not contended or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
    db.execute("PRAGMA synchronous=FULL")
    return db
