"""Many processes opening the same new SQLite file at once: none sees `database is locked`."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from cartflow.runtime.sqlite import connect
from cartflow.runtime.state import SqliteState


def _open_at_once(kind: str, path: str, barrier: multiprocessing.synchronize.Barrier) -> str:
    barrier.wait()
    try:
        if kind == "state":
            state = SqliteState(Path(path))
            state.set_watermark("s", "e", "1")
            state.close()
        else:
            db = connect(path)
            db.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            db.execute("INSERT INTO t VALUES (1)")
            db.close()
        return "ok"
    except sqlite3.OperationalError as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("kind", ["connect", "state"])
def test_concurrent_first_open_never_reports_locked(tmp_path: Path, kind: str) -> None:
    ctx = multiprocessing.get_context("fork")
    workers, rounds = 6, 8
    with ctx.Manager() as manager:
        for round_ in range(rounds):
            path = tmp_path / f"{kind}-{round_}.db"
            barrier = manager.Barrier(workers)
            with ctx.Pool(workers) as pool:
                outcomes = pool.starmap(_open_at_once, [(kind, str(path), barrier)] * workers, chunksize=1)
            assert outcomes == ["ok"] * workers, (round_, outcomes)
            mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
            assert mode == "wal"
    if kind == "connect":
        total = sum(sqlite3.connect(tmp_path / f"connect-{r}.db").execute("SELECT count(*) FROM t").fetchone()[0]
                    for r in range(rounds))
        assert total == workers * rounds
