"""The embedded event log: partitions by key, durable appends, groups with committed offsets, retention."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from cartflow.stream.log import LogUnavailable, OutgoingEvent, partition_for
from cartflow.stream.sqlite_log import SqliteLog
from polling import wait_until


def events(n: int, invoices: int = 5, start: int = 0) -> list[OutgoingEvent]:
    return [OutgoingEvent(key=f"inv{i % invoices}".encode(), value=f'{{"n":{i}}}'.encode(), event_id=f"e{i}")
            for i in range(start, start + n)]


def drain(consumer, timeout: float = 2.0) -> list:
    out, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = consumer.poll(100, 0.05)
        if not batch and out:
            break
        out += batch
    return out


def test_lines_of_one_invoice_stay_in_one_partition_in_order(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "events.db", partitions=4)
    log.append(events(50))
    got = drain(log.consumer("g"))
    assert len(got) == 50
    for inv in range(5):
        mine = [e for e in got if e.key == f"inv{inv}".encode()]
        assert {e.partition for e in mine} == {partition_for(f"inv{inv}".encode(), 4)}
        assert [int(e.event_id[1:]) for e in mine] == sorted(int(e.event_id[1:]) for e in mine)
    for p in range(4):
        offsets = [e.offset for e in got if e.partition == p]
        assert offsets == list(range(len(offsets)))  # contiguous from 0


def test_appends_are_fully_synchronous_in_wal_mode(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "events.db")
    assert log._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert log._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: fsync at every commit


def test_an_acknowledged_append_survives_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    code = ("import os\nfrom cartflow.stream.sqlite_log import SqliteLog\nfrom cartflow.stream.log import OutgoingEvent\n"
            f"log = SqliteLog(__import__('pathlib').Path({str(path)!r}))\n"
            "log.append([OutgoingEvent(b'k', b'v%d' % i, 'e%d' % i) for i in range(100)])\n"
            "print('acked', flush=True)\nos.kill(os.getpid(), 9)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert b"acked" in proc.stdout and proc.returncode == -9
    assert len(drain(SqliteLog(path).consumer("g"))) == 100


def test_groups_resume_from_their_committed_offsets(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "events.db", partitions=2)
    log.append(events(20))
    first = log.consumer("raw")
    got = drain(first)
    done = {p: max(e.offset for e in got if e.partition == p) + 1 for p in (0, 1)}
    first.commit({0: done[0]})  # partition 1 not committed
    first.close()
    log.append(events(4, start=20))
    again = log.consumer("raw")
    replay = drain(again)
    assert {e.event_id for e in replay} == {e.event_id for e in got if e.partition == 1} | {"e20", "e21", "e22", "e23"}
    assert sum(again.lag().values()) == 24 - done[0]
    other = log.consumer("serving")  # another group reads everything independently
    assert len(drain(other)) == 24
    again.close()
    other.close()


def test_one_active_member_per_group_and_a_standby_takes_over(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "events.db", partitions=2)
    log.append(events(6))
    active, standby = log.consumer("g"), log.consumer("g")
    assert len(drain(active)) == 6
    assert standby.poll(100, 0.1) == [] and standby.assignment() == []
    with pytest.raises(LogUnavailable):
        standby.commit({0: 1})
    active.commit({0: 0, 1: 0})
    active.close()
    # the standby retries the group lock every second: poll until it took over
    taken = wait_until(lambda: drain(standby), timeout=30, what="the standby took the partitions over")
    assert len(taken) == 6 and standby.assignment() == [0, 1]
    standby.close()


def test_retention_deletes_old_events_and_offsets_never_restart(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "events.db", partitions=1, retention_hours=1)
    log.append(events(5))
    log._db.execute("UPDATE events SET appended_at = appended_at - 7200")
    assert log.enforce_retention() == 5
    log.append(events(2, start=5))
    consumer = log.consumer("late")
    got = drain(consumer)
    assert [e.offset for e in got] == [5, 6] and consumer.skipped == 5


def test_the_partition_count_cannot_change_under_existing_offsets(tmp_path: Path) -> None:
    SqliteLog(tmp_path / "events.db", partitions=4).close()
    with pytest.raises(LogUnavailable, match="created with 4 partitions"):
        SqliteLog(tmp_path / "events.db", partitions=8)


def test_read_range_replays_exact_offsets(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "events.db", partitions=1)
    log.append(events(10))
    assert [e.offset for e in log.read_range(0, 3, 6)] == [3, 4, 5, 6]
