"""File fuzz: mutated files in configured source paths never fail a run, and every one is accounted for
(issue 13, §7).

Three `files` sources read configured paths (`[sources.x] path = ...`): the Online Retail CSV
(latin-1), a partner's CSV (utf-8) and an app's NDJSON export. Each `cartflow run` (the real
CLI) finds many mutated files (tests/chaos_mutations.py: truncated, re-encoded, binary noise,
compressed, columns missing/extra/duplicated/renamed/shuffled, quotes unbalanced, CR/LF mixes,
NULs, huge fields, empty, header only, odd names) beside a few good ones; later runs also find
files rewritten after they were landed. After each run:

* the run ended `succeeded` or `partial` (exit 0), never `failed`;
* every file is accounted for by its content (the batch id is its hash): rejected with a reason
  code and reason (`cartflow dlq list files --format json` lists it), or taken through silver
  with raw = silver + quarantine for its batch; none is left half-way;
* every good file's rows reached gold;
* no console line, JSON log line, reason or `dlq list` output holds a raw control character.

CI runs about 50 files (CI_RUNS); `pytest -m chaos` (make chaos) at least 1,000
(CARTFLOW_CHAOS_FILES per run, CARTFLOW_CHAOS_FILE_RUNS runs). Seeded (CARTFLOW_CHAOS_SEED, printed);
a file that breaks a promise is saved under .chaos-failures/ with why.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cartflow.config import Project, load_project
from cartflow.sandbox.retail_generator import generate_online_retail
from cartflow.scaffold import init_project
from chaos_checks import hidden_characters, ledger, report_figures, save_failure, strings_in
from chaos_mutations import Fuzzed, good_file, mutate

pytestmark = pytest.mark.slow  # whole `cartflow run`s: outside make test-fast, in make test and CI
SEED = int(os.environ.get("CARTFLOW_CHAOS_SEED", 1313))
CLI = str(Path(sys.executable).with_name("cartflow"))
SOURCES = {  # name -> (format, encoding, path below the project)
    "online_retail": ("csv", "latin-1", "landing/online_retail"),
    "partner_feed": ("csv", "utf-8", "drops/partner"),
    "app_export": ("ndjson", "utf-8", "drops/app"),
}
EXTRA_SOURCES = """
[sources.partner_feed]
kind = "files"
entity = "order_lines"
path = "drops/partner"
format = "csv"
required = true
settle_seconds = 0
inbox = false

[sources.partner_feed.csv]
encoding = "utf-8"

[sources.app_export]
kind = "files"
entity = "order_lines"
path = "drops/app"
format = "ndjson"
required = true
settle_seconds = 0
inbox = false
"""
CI_RUNS = (36, 14)
"""Fuzzed files per run in CI (the second run also rewrites files the first one landed)."""
USED_NAMES: set[tuple[str, str]] = set()
"""Names written by a run so far: a new fuzzed file never takes one (only a rewrite does, on purpose)."""
REWRITES = 0.12
"""Share of a later run's files that are earlier, landed files rewritten under the same name."""


@dataclass
class Outcome:
    status: str
    rejected: Counter
    landed: list[Fuzzed]
    """Files landed under their own name (taken through silver): a later run may rewrite them."""
    duplicates: int
    problems: list[str]


def make_project(root: Path) -> Project:
    init_project(root)
    toml = root / "cartflow.toml"
    toml.write_text(toml.read_text().replace("settle_seconds = 5", "settle_seconds = 0") + EXTRA_SOURCES)
    for _, _, path in SOURCES.values():
        (root / path).mkdir(parents=True, exist_ok=True)
    return load_project(root)


def base_rows(tmp: Path) -> list[list[str]]:
    generate_online_retail(tmp, scale=0.01, seed=SEED)
    with (tmp / "online_retail.csv").open(encoding="latin-1", newline="") as f:
        return list(csv.reader(f))[1:]


def batch_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def cli(project: Project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args, "-p", str(project.root)], capture_output=True, timeout=900,
                          env={**os.environ, "COLUMNS": "80"})


def files_for_run(run: int, count: int, base: list[list[str]], earlier: list[Fuzzed]) -> list[Fuzzed]:
    """`count` fuzzed files (a share of them rewrites of `earlier`, files landed by earlier runs) and a good
    file per source."""
    files: list[Fuzzed] = []
    rng = random.Random(f"{SEED}-run-{run}")
    rewrites = rng.sample(earlier, k=min(len(earlier), int(count * REWRITES))) if earlier else []
    for old in rewrites:
        extra = mutate(f"{SEED}-{run}-rewrite-{old.name}", 0, base, old.source, *SOURCES[old.source][:2]).data
        data = old.data + extra if rng.random() < 0.7 else old.data[: len(old.data) // 2]
        if data == old.data:  # an empty `extra`: not a rewrite at all (the 1,000-file run flagged three)
            data = old.data[: len(old.data) // 2]
        files.append(Fuzzed(old.name, data, old.source, f"rewrite of {old.seed}", ["changed_after_landing"]))
    names = {(f.source, f.name) for f in earlier} | USED_NAMES
    i = 0
    while len(files) < count:
        source = list(SOURCES)[i % len(SOURCES)]
        fmt, encoding, _ = SOURCES[source]
        fuzzed = mutate(f"{SEED}-{run}-{i}", run * 10_000 + i, base, source, fmt, encoding)
        i += 1
        if (source, fuzzed.name) not in names:
            names.add((source, fuzzed.name))
            USED_NAMES.add((source, fuzzed.name))
            files.append(fuzzed)
    return files + [good_file(i, run, source, SOURCES[source][0]) for i, source in enumerate(SOURCES)]


def write(project: Project, files: list[Fuzzed]) -> None:
    old = os.path.getmtime(project.root / "cartflow.toml") - 3600
    for f in files:
        path = project.root / SOURCES[f.source][2] / f.name
        path.write_bytes(f.data)
        os.utime(path, (old, old))


def by_batch(project: Project, table: str) -> Counter:
    con = duckdb.connect(str(project.warehouse_path), read_only=True)
    try:
        return Counter(dict(con.execute(f"SELECT _batch_id, count(*) FROM {table} GROUP BY 1").fetchall()))
    finally:
        con.close()


def manifests(project: Project) -> dict[tuple[str, str], dict[str, Any]]:
    import sqlite3

    con = sqlite3.connect(f"file:{project.state_path}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return {(r["source"], r["batch_id"]): dict(r) for r in con.execute("SELECT * FROM manifests")}
    finally:
        con.close()


def account(f: Fuzzed, m: dict[str, Any] | None, silver: Counter, quarantine: Counter, gold: Counter,
            listed: set[tuple[str, str]]) -> str | None:
    """Why this file is not accounted for (None: it is)."""
    if m is None:
        return "neither landed nor rejected (no manifest for its content)"
    batch = m["batch_id"]
    if m["status"] == "rejected":
        why = json.loads(m["rejection"] or "{}")
        if not why.get("code") or not why.get("reason"):
            return f"rejected without a code and reason: {why}"
        if hidden_characters(json.dumps(why, ensure_ascii=False)) or hidden_characters("".join(strings_in(why))):
            return f"its reason holds raw control characters: {why!r}"
        if (f.source, batch) not in listed:
            return "rejected, but `cartflow dlq list files` does not list it"
        if f.good_rows:
            return f"a good file was rejected: {why.get('code')}: {why.get('reason')}"
        if "changed_after_landing" in f.mutations and why.get("code") != "changed_after_landing" and \
                why.get("file") == f.name:
            return f"rewritten after landing, rejected as {why.get('code')} instead of changed_after_landing"
        return None
    if m["status"] != "transformed":
        return f"left in status {m['status']!r}"
    if m["rows"] != silver[batch] + quarantine[batch]:
        return f"raw {m['rows']} != silver {silver[batch]} + quarantine {quarantine[batch]}"
    if "changed_after_landing" in f.mutations and m["source_file"] == f.name:
        return "rewritten after landing, and landed a second time under the same name"
    if f.good_rows and (gold[batch] != f.good_rows or quarantine[batch]):
        return f"a good file: {gold[batch]} of its {f.good_rows} rows in gold, {quarantine[batch]} quarantined"
    return None


def fuzz_run(project: Project, run: int, files: list[Fuzzed]) -> Outcome:
    write(project, files)
    done = cli(project, "run")
    console = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    status = last_status(project)  # the run record, not the console, says how it ended
    problems = []
    if done.returncode != 0 or status not in ("succeeded", "partial"):
        problems.append(f"run {run} ended {status} (exit {done.returncode}): {console[-3000:]}")
    if hidden_characters(console):
        problems.append(f"run {run}: the console shows raw control characters {hidden_characters(console)}")
    dlq = cli(project, "dlq", "list", "files", "--format", "json", "--limit", "1000000")
    listing = json.loads(dlq.stdout)
    listed = {(i["source"], i["detail"].get("batch_id")) for i in listing}
    if hidden_characters("".join(strings_in(listing))):
        problems.append(f"`dlq list files` shows raw control characters {hidden_characters(''.join(strings_in(listing)))}")
    known, silver = manifests(project), by_batch(project, "silver.order_lines")
    quarantine, gold = by_batch(project, "silver.quarantine_order_lines"), by_batch(project, "gold.fct_order_line")
    rejected: Counter = Counter()
    seen: set[tuple[str, str]] = set()
    duplicates = 0
    for f in files:
        key = (f.source, batch_id(f.data))
        duplicates += key in seen
        seen.add(key)
        m = known.get(key)
        why = account(f, m, silver, quarantine, gold, listed)
        if why:
            kept = save_failure(f"{SEED}-{f.source}-{f.name}", f.data, f"seed {f.seed}, mutations {f.mutations}: {why}")
            problems.append(f"{f.source}/{f.name!r} (seed {f.seed!r}, {f.mutations}): {why} (saved as {kept})")
        elif m and m["status"] == "rejected":
            rejected[json.loads(m["rejection"])["code"]] += 1
    landed = [f for f in files if (m := known.get((f.source, batch_id(f.data)))) and m["status"] == "transformed"
              and m["source_file"] == f.name]
    return Outcome(status, rejected, landed, duplicates, problems)


def last_status(project: Project) -> str:
    import sqlite3

    con = sqlite3.connect(f"file:{project.state_path}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT status FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:
        return "no run recorded"
    else:
        return row[0] if row else "no run recorded"
    finally:
        con.close()


def log_problems(project: Project) -> list[str]:
    """Hidden characters in the JSON log's decoded strings (its JSON escapes are fine; their content is not)."""
    problems = []
    for n, line in enumerate((project.work_dir / "logs" / "cartflow.jsonl").read_text().splitlines(), 1):
        found = hidden_characters("".join(strings_in(json.loads(line))))
        if found:
            problems.append(f"JSON log line {n} holds raw control characters {found}: {line[:300]}")
    return problems


def fuzz(tmp: Path, counts: list[int], suite: str) -> None:
    print(f"file fuzz: seed {SEED}, runs of {counts} files")
    USED_NAMES.clear()
    project = make_project(tmp / "shop")
    base = base_rows(tmp / "base")
    earlier: list[Fuzzed] = []
    problems: list[str] = []
    totals: Counter = Counter()
    rejected: Counter = Counter()
    statuses: Counter = Counter()
    for run, count in enumerate(counts, 1):
        files = files_for_run(run, count, base, earlier)
        outcome = fuzz_run(project, run, files)
        problems += outcome.problems
        rejected.update(outcome.rejected)
        statuses[outcome.status] += 1
        fuzzed = [f for f in files if not f.good_rows]
        totals.update(files=len(fuzzed), good_files=len(files) - len(fuzzed), landed=len(outcome.landed),
                      same_content_as_another=outcome.duplicates,
                      rewritten_after_landing=sum("changed_after_landing" in f.mutations for f in files))
        earlier += [f for f in outcome.landed if not f.good_rows and "changed_after_landing" not in f.mutations]
        print(f"run {run}: {outcome.status}, {len(files)} files, rejected {dict(outcome.rejected)}")
    problems += log_problems(project)
    rows = ledger(project)
    if rows["raw"] != rows["silver"] + rows["quarantine"] or rows["pending_batches"]:
        problems.append(f"ledger after all runs: {rows}")
    report_figures(suite, {"seed": SEED, **totals, "runs": dict(statuses), "rejected_by_code": dict(rejected),
                           "rows": rows, "failures": len(problems)})
    assert not problems, "\n".join(problems[:40]) + (f"\n... {len(problems) - 40} more" if len(problems) > 40 else "")


def test_fuzzed_files_beside_good_ones_never_fail_a_run_and_each_is_accounted_for(tmp_path: Path) -> None:
    fuzz(tmp_path, list(CI_RUNS), "file fuzz (CI)")


@pytest.mark.chaos
def test_at_least_1000_fuzzed_files(tmp_path: Path) -> None:
    runs = int(os.environ.get("CARTFLOW_CHAOS_FILE_RUNS", 4))
    per_run = int(os.environ.get("CARTFLOW_CHAOS_FILES", 260))
    assert runs * per_run >= 1000 or "CARTFLOW_CHAOS_FILES" in os.environ
    fuzz(tmp_path, [per_run] * runs, "file fuzz")
