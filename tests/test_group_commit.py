"""Group commit: concurrent writers share transactions, and each still gets exactly its own outcome.

The ingest path binds event ids (serving store) and appends to the log (SQLite) through
`GroupCommit`; these tests run real threads against real SQLite files: every caller's
result is its own, a refused caller alone sees its error, offsets stay contiguous and the
first content bound to an event id keeps it, as if the writes had been made one by one.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

import pytest

from cartflow.runtime.group_commit import GroupCommit
from cartflow.serving.sqlite_store import SqliteStore
from cartflow.stream.log import OutgoingEvent
from cartflow.stream.sqlite_log import SqliteLog

THREADS = 8


def run_together(target, args_list: list[tuple]) -> list:
    """Start every call at once (a barrier), return their results or exceptions in order."""
    barrier = threading.Barrier(len(args_list))
    out: list = [None] * len(args_list)

    def call(i: int, args: tuple) -> None:
        barrier.wait()
        try:
            out[i] = target(*args)
        except Exception as exc:  # noqa: BLE001 - the test compares outcomes
            out[i] = exc

    threads = [threading.Thread(target=call, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_callers_get_their_own_results_and_share_transactions() -> None:
    calls: list[int] = []
    entered = threading.Event()
    release = threading.Event()

    def write(groups: list[Sequence[int]]) -> list[int]:
        calls.append(len(groups))
        if len(calls) == 1:  # hold the first transaction until every other caller is queued
            entered.set()
            release.wait(10)
        return [sum(g) for g in groups]

    commit: GroupCommit[int, int] = GroupCommit(write)
    results: list = [None] * THREADS

    def call(i: int) -> None:
        results[i] = commit.submit([i, i])

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert entered.wait(10)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, THREADS)]
    for t in others:
        t.start()
    for _ in range(1000):  # until the others are queued behind the first transaction (bounded)
        if commit.waiting == THREADS - 1:
            break
        threading.Event().wait(0.01)
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert results == [2 * i for i in range(THREADS)]
    assert calls == [1, THREADS - 1]  # the seven queued callers were written in one transaction


def test_a_refused_caller_alone_sees_its_error() -> None:
    def write(groups: list[Sequence[int]]) -> list[int]:
        if any(-1 in g for g in groups):
            raise ValueError("refused: -1")
        return [len(g) for g in groups]

    commit: GroupCommit[int, int] = GroupCommit(write)
    out = run_together(commit.submit, [([1, 2],), ([-1],), ([3],), ([4, 5, 6],)])
    assert out[0] == 2 and out[2] == 1 and out[3] == 3
    assert isinstance(out[1], ValueError)


def test_concurrent_appends_are_all_durable_with_contiguous_offsets(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "log.db", partitions=2)
    batches = [[OutgoingEvent(key=f"inv{t % 3}".encode(), value=f'{{"t":{t},"i":{i}}}'.encode(),
                              event_id=f"e{t}-{i}") for i in range(50)] for t in range(THREADS)]
    out = run_together(log.append, [(b,) for b in batches])
    assert all(r is None for r in out), out
    events = [e for p in range(log.partitions) for e in log.read_range(p, 0, 10**6)]
    assert sorted(e.event_id for e in events) == sorted(e.event_id for b in batches for e in b)
    for p in range(log.partitions):
        offsets = [e.offset for e in events if e.partition == p]
        assert offsets == list(range(len(offsets)))  # no gap, no duplicate
        assert log.heads().get(p, 0) == len(offsets)
    for t in range(THREADS):  # one request's events keep their order within a partition
        for p in range(log.partitions):
            mine = [int(e.event_id.split("-")[1]) for e in events if e.partition == p and e.event_id.startswith(f"e{t}-")]
            assert mine == sorted(mine)


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_claims_bind_each_id_to_its_first_content(tmp_path: Path, round_: int) -> None:
    store = SqliteStore(tmp_path / f"serving{round_}.db")
    store.claim_events([("bound-before", "h0")])
    claims = [[("shared", f"h{t}"), (f"own-{t}", "x"), ("bound-before", f"h{t}")] for t in range(THREADS)]
    out = run_together(store.claim_events, [(c,) for c in claims])
    assert not any(isinstance(r, Exception) for r in out), out
    winner = out[0]["shared"]
    for t, held in enumerate(out):
        assert held == {"shared": winner, f"own-{t}": "x", "bound-before": "h0"}  # one first content for all
    assert winner in {f"h{t}" for t in range(THREADS)}
    assert store.claim_events([("shared", "other")]) == {"shared": winner}  # and it stays bound
    assert store.claim_events([("fresh", "a"), ("fresh", "b")]) == {"fresh": "a"}  # the first of a batch wins
