"""Open the embedded SQLite files (state, logs, sinks, serving store) one way, safe under concurrency."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 30.0


def connect(path: Path | str, *, synchronous: str = "FULL",
            timeout: float = BUSY_TIMEOUT_SECONDS) -> sqlite3.Connection:
    """A WAL-mode, autocommit connection that waits out other processes instead of failing.

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
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db
