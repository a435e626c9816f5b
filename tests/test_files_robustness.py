"""Files sources under hostile input (issue 13 §2, §6): unfinished files, files changed after
landing, bad files beside good ones, escape codes in names and content, raw retention.

Whole-pipeline runs are few (two tests); the rest stops after extract or bronze.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cartflow.cli import app
from cartflow.config import Project, load_project
from cartflow.entities import ORDER_LINES
from cartflow.lake.bronze import BronzeError
from cartflow.lake.bronze_columns import ColumnMap
from cartflow.lake.raw import Rejection, delete_standardized_raw, land_file, record_rejection, rejected_in_run
from cartflow.lake.storage import open_lake, open_storage
from cartflow.pipeline.alerts import read_alert_log
from cartflow.pipeline.backfill import Restatement
from cartflow.pipeline.dlq import provider
from cartflow.pipeline.run import run_pipeline
from cartflow.pipeline.standardize import to_bronze
from cartflow.runtime.backends import open_state
from cartflow.runtime.logs import reset_logging
from cartflow.runtime.pg_state import PostgresState
from cartflow.runtime.progress import QuietReporter
from cartflow.runtime.text import printable, printable_bytes
from cartflow.sources import extract, file_checks
from cartflow.sources.file_checks import settle
from conftest import HEADER, write_csv
from conftest_s3 import KEY_ENV, SECRET_ENV

ROWS = [f"5364{i:02d},2{i:04d},ITEM {i},{i + 1},12/{1 + i % 3}/2010 9:{i:02d},1.{i:02d},1{i:04d},United Kingdom"
        for i in range(20)]
ESC = "\x1b[31m"


def configure(project: Project, **source: object) -> Project:
    """Set keys of [sources.online_retail] (and `lake_`-prefixed keys of [lake])."""
    path = project.root / "cartflow.toml"
    text = path.read_text()
    for key, value in source.items():
        shown = json.dumps(value) if not isinstance(value, bool) else str(value).lower()
        if key.startswith("lake_"):
            old = f'{key[5:]} = "keep"'
            assert old in text
            text = text.replace(old, f"{key[5:]} = {shown}")
        elif re.search(rf"(?m)^{key} = ", text):  # encoding, settle_seconds: already written by `init`
            text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {shown}", text, count=1)
        else:
            text = text.replace('required = true\n', f"required = true\n{key} = {shown}\n", 1)
    path.write_text(text)
    return load_project(project.root)


def run_extract(project: Project, reporter: QuietReporter | None = None) -> int:
    state = open_state(project)
    try:
        return extract(project, open_lake(project), state, reporter or QuietReporter(), "online_retail",
                       project.config.sources["online_retail"], "r-test")
    finally:
        state.close()


def counts(project: Project) -> tuple[int, int]:
    con = duckdb.connect(str(project.warehouse_path), read_only=True)
    try:
        return (con.execute("SELECT count(*) FROM silver.order_lines").fetchone()[0],
                con.execute("SELECT count(*) FROM silver.quarantine_order_lines").fetchone()[0])
    finally:
        con.close()


def csv_bytes(rows: list[str], header: str = HEADER) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode("latin-1")


# -- a file completed after its first landing ---------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_file_completed_after_its_first_landing_is_rejected_not_counted_twice(project: Project,
                                                                                landing: Path) -> None:
    project = configure(project, settle_seconds=0)
    full = csv_bytes(ROWS)
    cut = full.index(ROWS[8].encode()) + 12  # `head -c`: the copy stopped inside row 9
    (landing / "grow.csv").write_bytes(full[:cut])
    first = run_pipeline(project)
    assert first.status == "succeeded", first.error
    assert counts(project) == (8, 1)  # 8 whole rows, the torn one quarantined: 9 raw rows

    (landing / "grow.csv").write_bytes(full)  # the producer finished the file under the same name
    second = run_pipeline(project)
    assert second.status == "partial" and second.new_batches == 0
    assert list(second.rejected_files) == ["online_retail/grow.csv"]
    assert second.rejected_files["online_retail/grow.csv"].startswith("changed_after_landing:")
    assert counts(project) == (8, 1)  # not 28 + 1: the second version was not landed beside the first
    assert [a["kind"] for a in read_alert_log(project)][-1] == "run_partial"
    files = provider("files")
    [item] = files.list(project)
    assert item.reason == "changed_after_landing" and item.id.startswith("online_retail/grow.csv@")
    replay = files.replay(project, [item.id])
    assert replay.replayed == 0 and "new name" in " ".join(replay.messages)

    third = run_pipeline(project)  # the same bytes again: known, not rejected (nor alerted) again
    assert third.status == "succeeded" and not third.rejected_files and len(files.list(project)) == 1

    # the documented way: the rows the first version lacked, under a new name
    (landing / "grow-rest.csv").write_bytes(csv_bytes(ROWS[8:]))
    fourth = run_pipeline(project)
    assert fourth.status == "succeeded", fourth.error
    assert counts(project) == (20, 1)
    assert fourth.layer_rows["raw"] == 9 + 12


# -- bad files beside good ones in a configured path -------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_bad_files_in_a_configured_path_are_rejected_and_the_good_one_goes_through(
        project: Project, landing: Path, tmp_path: Path) -> None:
    project = configure(project, settle_seconds=0, encoding="utf-8", lake_raw_retention="delete_after_standardize")
    write_csv(landing / "good.csv", ROWS[:6])
    (landing / "empty.csv").write_bytes(b"")
    (landing / "binary.csv").write_bytes(b"\x00\x01\x02\x03garbage" * 200)
    (landing / "archive.csv").write_bytes(gzip.compress(csv_bytes(ROWS)))
    (landing / "header.csv").write_bytes(b"Foo,Bar\r\n1,2\r\n")
    (landing / "escape.csv").write_bytes(csv_bytes(ROWS[:1], header=HEADER.replace("InvoiceNo", f"Inv{ESC}oiceNo")))
    (landing / "latin.csv").write_bytes(csv_bytes(["536999,1,CAF\xc9,1,12/1/2010 9:00,1.00,12345,France"]))
    late = csv_bytes(ROWS * 200)  # > 64 KiB of good text, then one byte that is not UTF-8: only bronze sees it
    (landing / "late.csv").write_bytes(late + b"536999,1,CAF\xc9,1,12/1/2010 9:00,1.00,12345,France\r\n")
    write_csv(tmp_path / "outside.csv", ROWS[6:8])
    (landing / "link.csv").symlink_to(tmp_path / "outside.csv")
    write_csv(landing / "2011" / "inside.csv", ROWS[8:10])
    (landing / "half.csv.part").write_bytes(b"InvoiceNo,Sto")
    before = sorted(p.name for p in landing.iterdir())

    try:
        cli = CliRunner().invoke(app, ["run", "-p", str(project.root), "--log-format", "json"])
    finally:
        reset_logging()
    assert cli.exit_code == 0, cli.output  # partial is not a failure
    state = open_state(project)
    try:
        [run] = state.runs()
    finally:
        state.close()
    assert run["status"] == "partial" and "8 file(s) rejected" in run["error"]
    codes = {"empty.csv": "empty_file", "binary.csv": "binary", "archive.csv": "compressed",
             "header.csv": "missing_column", "escape.csv": "missing_column", "latin.csv": "encoding",
             "late.csv": "encoding", "link.csv": "symlink"}
    files = provider("files")
    items = {i.id.split("/", 1)[1].split("@")[0]: i for i in files.list(project)}
    assert {k: i.reason for k, i in items.items()} == codes
    assert items["late.csv"].detail["where"] == "bronze" and items["empty.csv"].detail["where"] == "path"
    assert counts(project) == (6, 0)  # the good file went through; nothing of the others
    assert sorted(p.name for p in landing.iterdir()) == before  # the user's directory is left as it was
    alert = read_alert_log(project)[-1]
    assert alert["kind"] == "run_partial" and "8 file(s) rejected" in alert["title"]

    # never a raw control byte: not in the console, the JSON log, the reasons or `dlq show`
    log_text = (project.root / ".cartflow" / "logs" / "cartflow.jsonl").read_text()
    shown = files.show(project, items["escape.csv"].id)
    for text in (cli.output, log_text, json.dumps([i.summary for i in items.values()], ensure_ascii=False),
                 json.dumps(shown.detail, ensure_ascii=False)):
        assert "\x1b" not in text and "\\u001b" not in text and "\x00" not in text
    assert "Inv\\x1b[31moiceNo" in items["escape.csv"].summary
    assert "\\x1b[31m" in log_text

    # raw retention: the batch that reconciled lost its raw object (not its manifest); the rejected one kept it
    state, storage = open_state(project), open_lake(project)
    try:
        [good] = state.manifests(status="transformed")
        assert good.raw_deleted_at and not storage.exists(good.raw_key) and good.rows == 6
        [bad] = [m for m in state.manifests(status="rejected") if m.source_file == "late.csv"]
        assert bad.raw_deleted_at is None and storage.exists(bad.raw_key)
    finally:
        state.close()

    again = run_pipeline(project)  # the same bad bytes are not tried (nor alerted) again
    assert again.status == "succeeded" and not again.rejected_files and len(files.list(project)) == 8

    # a restatement needs bronze; with bronze lost and raw deleted, it says so instead of losing rows
    storage.delete(good.bronze_key)
    restated = run_pipeline(project, restate=Restatement(batch_ids=(good.batch_id,), reason="test"))
    assert restated.status == "failed"
    assert "raw_retention" in restated.error and good.bronze_key in restated.error


# -- finished files only ---------------------------------------------------------------------
class Writer:
    """A producer still appending while the run waits for the file to settle."""

    def __init__(self, path: Path) -> None:
        self.path, self.waits = path, []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        with self.path.open("ab") as f:
            f.write(b"536999,1,MORE,1,12/1/2010 9:00,1.00,12345,France\r\n")


def test_a_file_still_being_written_is_left_for_the_next_run(project: Project, landing: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    project = configure(project, settle_seconds=30)
    write_csv(landing / "day.csv", ROWS[:3])
    write_csv(landing / "old.csv", ROWS[3:5])
    old = (landing / "old.csv").stat().st_mtime - 3600
    os.utime(landing / "old.csv", (old, old))  # finished an hour ago: taken without waiting for it
    writer = Writer(landing / "day.csv")
    monkeypatch.setattr(file_checks.CLOCK, "sleep", writer.sleep)
    reporter = QuietReporter()
    assert run_extract(project, reporter) == 1
    assert len(writer.waits) == 1 and 0 < writer.waits[0] <= 30  # one wait, never longer than the quiet period
    assert any("day.csv" in m and "left for the next run" in m for m in reporter.messages)
    state = open_state(project)
    try:
        assert [m.source_file for m in state.manifests()] == ["old.csv"]
        assert not state.manifests(status="rejected")  # unfinished is not bad
    finally:
        state.close()
    monkeypatch.setattr(file_checks.CLOCK, "sleep", lambda seconds: None)  # the producer is done
    assert run_extract(project) == 1


def test_settle_waits_once_and_only_for_young_files() -> None:
    class Clock:
        def __init__(self) -> None:
            self.t, self.slept = 1000.0, []

        def now(self) -> float:
            return self.t

        def sleep(self, s: float) -> None:
            self.slept.append(s)
            self.t += s
            stats["growing"] = (stats["growing"][0] + 10, self.t)

    stats = {"old": (5, 900.0), "young": (5, 998.0), "growing": (5, 999.0), "gone": None}
    clock = Clock()
    ready, waiting = settle(list(stats), lambda k: stats[k], 5, clock=clock)
    assert (sorted(ready), waiting, clock.slept) == (["old", "young"], ["growing"], [4.0])
    assert settle(["a"], lambda k: (1, 2e9), 5, clock=Clock())[0] == ["a"]  # a future mtime: wait 5 s at most
    assert settle(["a"], lambda k: (1, 1000.0), 0, clock=clock) == (["a"], [])


def test_a_ready_marker_or_a_rename_tells_that_a_file_is_complete(project: Project, landing: Path) -> None:
    project = configure(project, ready_marker=".done")
    write_csv(landing / "day1.csv", ROWS[:2])
    write_csv(landing / "day2.csv", ROWS[2:4])
    (landing / "day3.csv.part").write_bytes(csv_bytes(ROWS[4:5]))
    (landing / "day1.csv.done").write_bytes(b"")
    reporter = QuietReporter()
    assert run_extract(project, reporter) == 1
    assert any("day2.csv" in m and "no .done marker" in m for m in reporter.messages)
    (landing / "day2.csv.done").write_bytes(b"")
    (landing / "day3.csv.part").rename(landing / "day3.csv")
    (landing / "day3.csv.done").write_bytes(b"")
    assert run_extract(project) == 2
    state = open_state(project)
    try:
        assert sorted(m.source_file for m in state.manifests()) == ["day1.csv", "day2.csv", "day3.csv"]
        assert not state.manifests(status="rejected")  # neither markers nor .part files are data
    finally:
        state.close()


def test_the_lake_inbox_takes_only_settled_files_too(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project = configure(project, settle_seconds=30)
    storage = open_lake(project)
    storage.write_bytes("landing/online_retail/drop.csv", csv_bytes(ROWS[:2]))
    inbox_file = Path(storage.uri("landing/online_retail/drop.csv"))
    monkeypatch.setattr(file_checks.CLOCK, "sleep", Writer(inbox_file).sleep)
    assert run_extract(project) == 0
    assert storage.exists("landing/online_retail/drop.csv")  # left in the inbox, not moved or rejected
    monkeypatch.setattr(file_checks.CLOCK, "sleep", lambda seconds: None)
    assert run_extract(project) == 1 and not storage.exists("landing/online_retail/drop.csv")


# -- rejections recorded, replayed after a fix --------------------------------------------------
def test_bronze_rejects_one_batch_and_converts_the_rest_of_its_source(project: Project, landing: Path) -> None:
    project = configure(project, settle_seconds=0, encoding="utf-8")
    write_csv(landing / "good.csv", ROWS[:4])
    late = csv_bytes(ROWS * 200) + b"536999,1,CAF\xc9,1,12/1/2010 9:00,1.00,12345,France\r\n"
    (landing / "late.csv").write_bytes(late)
    (landing / "latin.csv").write_bytes(csv_bytes(["536998,1,CAF\xc9,1,12/1/2010 9:00,1.00,12345,France"]))
    assert run_extract(project) == 2  # latin.csv is refused at the door (its first bytes are not UTF-8)
    state, storage = open_state(project), open_lake(project)
    try:
        outcome = to_bronze(project, storage, state, QuietReporter(), run_id="r-bronze")
        assert not outcome.failed and [m.source_file for m in outcome.converted] == ["good.csv"]
        assert list(outcome.rejected) == ["online_retail/late.csv"]
        assert sorted(m.source_file for m in rejected_in_run(state, "r-bronze")) == ["late.csv"]
    finally:
        state.close()
    files = provider("files")
    assert files.counts(project) == {"encoding": 2}
    shown = files.show(project, "online_retail/late.csv")
    assert shown.detail["where"] == "bronze" and shown.detail["head"][0].startswith("InvoiceNo,")

    # a replay that needs the raw copy says so when it is gone (here: an operator's lifecycle rule)
    storage = open_lake(project)
    raw = storage.read_bytes(shown.detail["raw_key"])
    storage.delete(shown.detail["raw_key"])
    gone = files.replay(project, [shown.id])
    assert gone.replayed == 0 and "raw copy is gone" in " ".join(gone.messages)
    storage.write_bytes(shown.detail["raw_key"], raw)

    # the fix was the config (the feed is latin-1): replay both, the next run takes them
    project = configure(project, encoding="latin-1")
    result = files.replay(project, None, reason="encoding")
    assert result.replayed == 2 and files.list(project)[0].status == "replayed"
    assert run_extract(project) == 1  # latin.csv, checked again and landed
    state = open_state(project)
    try:
        outcome = to_bronze(project, open_lake(project), state, QuietReporter(), run_id="r-again")
        assert sorted(m.source_file for m in outcome.converted) == ["late.csv", "latin.csv"]
        assert not outcome.rejected and not state.manifests(status="rejected")
    finally:
        state.close()
    assert files.counts(project) == {}


def test_a_sub_folder_is_skipped_with_a_note_or_taken_with_recursive(project: Project, landing: Path) -> None:
    project = configure(project, settle_seconds=0)
    write_csv(landing / "2011" / "01" / "day.csv", ROWS[:2])
    write_csv(landing / "day.csv", ROWS[2:4])
    reporter = QuietReporter()
    assert run_extract(project, reporter) == 1
    assert any("2011/" in m and "recursive = true" in m for m in reporter.messages)
    project = configure(project, recursive=True)
    assert run_extract(project) == 1
    state = open_state(project)
    try:  # named by its path below the source: day.csv and 2011/01/day.csv are two files, not one changed
        assert sorted(m.source_file for m in state.manifests()) == ["2011/01/day.csv", "day.csv"]
    finally:
        state.close()


def test_a_symlink_is_taken_only_when_configured(project: Project, landing: Path, tmp_path: Path) -> None:
    project = configure(project, settle_seconds=0)
    write_csv(tmp_path / "elsewhere.csv", ROWS[:2])
    (landing / "link.csv").symlink_to(tmp_path / "elsewhere.csv")
    assert run_extract(project) == 0 and run_extract(project) == 0
    [item] = provider("files").list(project)  # recorded once, not again every run
    assert item.reason == "symlink" and "follow_symlinks" in item.summary
    project = configure(project, follow_symlinks=True)
    assert run_extract(project) == 1


# -- escaping --------------------------------------------------------------------------------
@pytest.mark.parametrize("raw,shown", [
    ("plain, accents é and 中文", "plain, accents é and 中文"),
    (f"{ESC}red\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("over\rwrite\nnext\tcol", "over\\rwrite\\nnext\\tcol"),
    ("nul\x00 del\x7f c1\x9b", "nul\\x00 del\\x7f c1\\x9b"),
    ("bidi \u202egnp.exe zero\u200bwidth", "bidi \\u202egnp.exe zero\\u200bwidth"),
    ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
])
def test_printable_escapes_every_control_and_invisible_character(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_file_content_in_errors_is_escaped_everywhere() -> None:
    assert printable_bytes(b"\x1f\x8b\x08\xff ok") == "\\x1f\\x8b\\x08\\xff ok"
    assert printable("x" * 50, limit=10) == "x" * 10 + "…"
    with pytest.raises(BronzeError) as err:
        ColumnMap(ORDER_LINES).resolve([f"Invoice{ESC}No", "StockCode"], source="src", file=f"bad{ESC}.csv",
                                       where="row 1 (header)")
    assert "\x1b" not in str(err.value) and "bad\\x1b[31m.csv" in str(err.value)


# -- state: rejection records and retention on the other backends --------------------------------
def test_rejections_and_retention_marks_on_postgresql(pg_dsn: str, pg_schema: str) -> None:
    state = PostgresState(pg_dsn, pg_schema)
    try:
        record_rejection(state, source="s", entity="order_lines", batch_id="b1", name="bad.csv", size=3,
                         rejection=Rejection("binary", f"s: bad.csv: {ESC}"), run_id="r1", where="path",
                         location="/x/bad.csv")
        [m] = rejected_in_run(state, "r1")
        assert m.status == "rejected" and "\x1b" not in m.rejection and state.manifests() == []
        state.update_manifest("s", "order_lines", "b1", status="transformed", raw_deleted_at="2026-01-01")
        assert state.manifests()[0].raw_deleted_at == "2026-01-01"
    finally:
        state.close()


@pytest.mark.slow
def test_raw_retention_on_an_s3_lake_deletes_only_reconciled_batches(project: Project, s3_server, s3_root,
                                                                      s3_env, tmp_path: Path) -> None:
    storage = open_storage(s3_root, endpoint=s3_server.endpoint, region=s3_server.region,
                           access_key_env=KEY_ENV, secret_key_env=SECRET_ENV)
    state = open_state(project)
    try:
        done = land_file(storage, state, source="s", entity="order_lines", path=write_csv(tmp_path / "a.csv", ROWS[:2]))
        waiting = land_file(storage, state, source="s", entity="order_lines",
                            path=write_csv(tmp_path / "b.csv", ROWS[2:4]))
        state.update_manifest("s", "order_lines", done.batch_id, status="transformed")
        assert delete_standardized_raw(storage, state) == (1, [])
        assert not storage.exists(done.raw_key) and storage.exists(waiting.raw_key)
        marked = state.get_manifest("s", "order_lines", done.batch_id)
        assert marked.raw_deleted_at and marked.status == "transformed"  # the manifest row stays
        assert delete_standardized_raw(storage, state) == (0, [])  # idempotent
        assert land_file(storage, state, source="s", entity="order_lines", path=tmp_path / "a.csv") is None
    finally:
        state.close()
