"""What the chaos suites compare and report: table checksums, the ledger, hidden characters, figures.

Shared by tests/test_chaos_kill.py and tests/test_chaos_files.py. Everything here reads
files a run left behind (published Parquet, the serving store, the state store, the
warehouse) read-only, after the run's process ended.
"""

from __future__ import annotations

import json
import os
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

import duckdb

from cartflow.config import Project

VOLATILE_COLUMNS = ("_ingested_at",)
"""Columns that say *when* a batch was landed (the extract time of the run that took it), not what
it holds: the only columns two runs over the same input may differ in."""

HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co"}
"""Unicode categories that never print as themselves (what `cartflow.runtime.text.printable` escapes)."""

FIGURES_PREFIX = "chaos-figures "
"""A line a chaos test prints with its figures as JSON; tests/chaos_results.py collects them."""


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def table_digest(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, str]:
    """(rows, md5 of the rows sorted as text): equal for equal multisets of rows, whatever their order.

    Every row is rendered as text (a struct of all its columns but the volatile ones) and the
    sorted texts are hashed together, so a doubled row changes the digest as well as the count.
    """
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    kept = ", ".join(f'"{c}"' for c in columns if c not in VOLATILE_COLUMNS)
    rows, digest = con.execute(
        f"SELECT count(*), md5(coalesce(string_agg(r, chr(10) ORDER BY r), '')) "
        f"FROM (SELECT CAST(ROW({kept}) AS VARCHAR) AS r FROM {relation})").fetchone()  # type: ignore[misc]
    return int(rows), str(digest)


def marts_digest(project: Project) -> dict[str, tuple[int, str]]:
    """Every published table of `<lake>/marts/` (as `_catalog.json` lists them): rows and sorted-row checksum."""
    lake = Path(project.lake_uri)
    catalog = json.loads((lake / "marts" / "_catalog.json").read_text())
    con = duckdb.connect()
    try:
        return {name: table_digest(con, f"read_parquet({_lit(str(lake / entry['key']))})")
                for name, entry in sorted(catalog["tables"].items())}
    finally:
        con.close()


def serving_digest(project: Project) -> dict[str, Any]:
    """The serving store's lines and invoices (checksums without `updated_at`), and what would show a double.

    `lines` vs `line_ids`: one row per line id (the key); `event_ids` vs `streamed`: no event id
    on two lines (a streamed line kept once under its event id and once under another id).
    """
    path = project.resolve(project.config.serving.path)
    con = duckdb.connect()
    try:
        con.execute("SET autoinstall_known_extensions = false")
        from duckdb_extensions import import_extension

        import_extension("sqlite_scanner", con=con)
        con.execute("LOAD sqlite_scanner")
        con.execute(f"ATTACH {_lit(str(path))} AS serving (TYPE sqlite, READ_ONLY)")
        lines = table_digest(con, "(SELECT * EXCLUDE (updated_at) FROM serving.order_lines)")
        invoices = table_digest(con, "serving.invoices")
        line_ids, streamed, event_ids = con.execute(
            "SELECT count(DISTINCT line_id), count(event_id), count(DISTINCT event_id) "
            "FROM serving.order_lines").fetchone()  # type: ignore[misc]
    finally:
        con.close()
    return {"lines": lines, "invoices": invoices, "line_ids": line_ids, "streamed": streamed, "event_ids": event_ids}


def ledger(project: Project) -> dict[str, Any]:
    """raw rows (landed batches that reached silver), silver and quarantine rows, and batches not yet through."""
    state = sqlite3.connect(f"file:{project.state_path}?mode=ro", uri=True)
    try:
        raw = state.execute("SELECT coalesce(sum(rows), 0) FROM manifests WHERE status='transformed'").fetchone()[0]
        stuck = state.execute("SELECT count(*) FROM manifests WHERE status IN ('landed', 'bronze')").fetchone()[0]
    finally:
        state.close()
    con = duckdb.connect(str(project.warehouse_path), read_only=True)
    try:
        silver = con.execute("SELECT count(*) FROM silver.order_lines").fetchone()[0]  # type: ignore[index]
        quarantine = con.execute("SELECT count(*) FROM silver.quarantine_order_lines").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    return {"raw": raw, "silver": silver, "quarantine": quarantine, "pending_batches": stuck}


def hidden_characters(text: str, allowed: str = "\n") -> list[str]:
    """The characters of `text` that would drive a terminal (escaped as `printable` shows them)."""
    return sorted({f"U+{ord(ch):04X}" for ch in text if ch not in allowed and unicodedata.category(ch) in HIDDEN})


def strings_in(value: Any) -> list[str]:
    """Every string inside a decoded JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def report_figures(suite: str, figures: dict[str, Any]) -> None:
    """Print the suite's figures (collected by `make chaos` into docs/reliability.md) and keep them beside the results."""
    line = FIGURES_PREFIX + json.dumps({"suite": suite, **figures}, sort_keys=True)
    print(line)
    target = os.environ.get("CARTFLOW_CHAOS_FIGURES")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(line[len(FIGURES_PREFIX):] + "\n")


def save_failure(name: str, data: bytes, why: str) -> Path:
    """Keep a file that broke a promise, with why, where the report can point to it."""
    root = Path(os.environ.get("CARTFLOW_CHAOS_FAILURES", Path(__file__).resolve().parent.parent / ".chaos-failures"))
    root.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)[:100] or "file"
    path = root / safe
    path.write_bytes(data)
    path.with_name(safe + ".why.txt").write_text(why)
    return path
