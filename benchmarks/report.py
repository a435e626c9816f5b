"""Machine facts, and docs/benchmarks.md rendered from the results dict."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

GIB = 2**30
MIB = 2**20

TARGETS_TEXT = {
    "pandas": "≥ 3× faster than pandas",
    "pyspark": "≥ 10× faster than PySpark local",
    "duckdb": "within 4× of the DuckDB lower bound",
}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = 0
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "ram_bytes": ram,
        "os": platform.platform(), "load_start": list(os.getloadavg()),
        "versions": {
            "python": sys.version.split()[0],
            **{d: _version(d) for d in ("duckdb", "sqlmesh", "pandas", "pyarrow", "pyspark", "polars")},
        },
    }


def _s(x: float | None) -> str:
    return "–" if x is None else (f"{x:.1f} s" if x >= 1 else f"{x * 1000:.0f} ms")


def _rss(b: int | None) -> str:
    return "–" if not b else (f"{b / GIB:.2f} GiB" if b >= GIB else f"{b / MIB:.0f} MiB")


def _ratio(s: dict[str, Any]) -> str:
    if s.get("ratio_median") is None:
        return "–"
    return f"{s['ratio_median']:.2f}× ({s['ratio_min']:.2f}–{s['ratio_max']:.2f})"


def _load(x: list[float] | None) -> str:
    return " / ".join(f"{v:.2f}" for v in x) if x else "?"


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    v = m["versions"]
    args = results.get("args", {})
    out: list[str] = []
    w = out.append
    w("# Benchmarks\n")
    w("Written by `make bench` (`python -m benchmarks`); the raw figures are in "
      "`benchmarks/results.json`. Benchmarks are not tests: they never fail CI.\n")
    w("Every implementation runs in its own subprocess, one after the other, so wall time is "
      "the whole process (interpreter start, imports and JVM start included) and peak RSS is per "
      "process tree (the max of `wait4` `ru_maxrss` and a 100 ms psutil poll of the tree's summed "
      "RSS, which catches Spark's JVM). Times are the **median (min–max)** of the runs; "
      "**ratios are computed within each round** (implementation time / cartflow time of the same "
      "round) and then the median is taken, because this machine is shared and noisy.\n")
    w("## Machine and versions\n")
    w(f"* started {results.get('started', '?')}; command: `python -m benchmarks "
      f"--scales {args.get('scales')} --runs {args.get('runs')}"
      + (f" --incremental-scale {args['incremental_scale']}" if args.get("incremental_scale") else "")
      + (f" --skip {args['skip']}" if args.get("skip") else "") + "`")
    w(f"* CPU: {m['cpu']}, **{m['cores']} cores**; RAM {m['ram_bytes'] / GIB:.1f} GiB; {m['os']}")
    w(f"* **load average at start: {_load(m.get('load_start'))}** (1/5/15 min), at the end: "
      f"{_load(results.get('load_end'))}. The machine is shared with other work while measuring: "
      f"a load above the core count means every figure below is slower than on an idle machine, "
      f"and the absolute times are pessimistic; the ratios are the comparable part.")
    w("* versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + "\n")

    w(render_targets(results))
    w("## 1. Batch, end to end\n")
    w("Same input (generated Online Retail, Kaggle-format latin-1 CSV, seed 7), same rules "
      "(docs/data-rules.md), same outputs: silver and quarantine Parquet and the revenue-monthly, "
      "top-products-by-season and RFM marts.\n")
    w("* **cartflow**: `cartflow init`, the CSV into `landing/online_retail/`, `cartflow run` "
      "(extract → raw + manifest → bronze → SQLMesh silver/gold, all 14 gold models, not only the "
      "3 marts → quality → publish all marts + serving store). It does more than the others: raw "
      "copy, lineage, SCD2 dimensions, audits, reconciliation, run history.")
    w("* **pandas** (`benchmarks/impl_pandas.py`): `read_csv(engine='pyarrow', dtype=str)`, vectorised "
      "cleaning with `np.select` in rule order, `duplicated()`, `to_parquet`; money as float64.")
    w("* **PySpark** (`benchmarks/impl_spark.py`): DataFrame API, `local[2]`, 2 GiB driver, "
      "8 shuffle partitions, DECIMAL(18,3) money.")
    w("* **DuckDB lower bound** (`benchmarks/impl_duckdb.py`): `COPY (SELECT * FROM read_csv(…, "
      "all_varchar)) TO 'x.parquet'`, nothing else.\n")
    for b in results.get("batch", []):
        s = b["summary"]
        rows = s.get("cartflow", {}).get("result", {}).get("raw_rows")
        w(f"### Scale {b['scale']}" + (f" ({rows:,} rows)" if rows else "") + f", {b['runs']} run{'s' if b['runs'] != 1 else ''}\n")
        w("| implementation | wall time, median (min–max) | peak RSS | time / cartflow, median (min–max) |")
        w("|---|---|---|---|")
        for name in ("cartflow", "pandas", "pyspark", "duckdb"):
            x = s.get(name)
            if not x:
                continue
            if not x["ok"]:
                w(f"| {name} | failed: {x.get('error', '')} | | |")
                continue
            w(f"| {name} | {_s(x['median'])} ({_s(x['min'])}–{_s(x['max'])}) | {_rss(x['rss'])} | "
              f"{_ratio(x)} |")
        w("")
        if s.get("_warnings"):
            w("**⚠ The implementations disagree:** " + "; ".join(s["_warnings"]) + "\n")
        elif s.get("cartflow", {}).get("ok"):
            r = s["cartflow"]["result"]
            w(f"Agreement check: every implementation read {r.get('raw_rows'):,} rows and the "
              f"full ones produced {r.get('silver_rows'):,} silver and {r.get('quarantine_rows'):,} "
              f"quarantine rows, as cartflow did ({r.get('quarantine')}).\n")
        c = s.get("cartflow", {})
        if c.get("ok") and c.get("stages"):
            total = c["inner_median"]
            w(f"Where cartflow's time goes (median stage seconds, `RunResult.stage_seconds`; "
              f"pipeline total {_s(total)}, the rest of the process wall time is interpreter "
              f"start and imports):\n")
            w("| stage | seconds | share |")
            w("|---|---|---|")
            for k, val in c["stages"].items():
                w(f"| {k} | {val:.1f} | {val / total * 100:.0f}% |")
            w("")

    w("## 2. Incremental\n")
    inc = results.get("incremental")
    if not inc:
        w("Not run in this invocation.\n")
    elif not inc.get("ok"):
        w(f"Failed: {inc.get('error')}\n")
    else:
        f_, l_ = inc["full"], inc["last_day"]
        w(f"Daily-split data at scale {inc['scale']} ({inc['days']} daily files): one run loads every "
          f"day but the last, a second run loads the last day ({inc['last_file']}) into the same "
          f"project.\n")
        w("| run | rows in | wall time | silver rows after |")
        w("|---|---|---|---|")
        w(f"| full load, {inc['days'] - 1} days | {f_.get('raw_rows') or 0:,} | {_s(f_['seconds'])} | "
          f"{f_.get('silver_rows') or 0:,} |")
        w(f"| + last day | {(l_.get('raw_rows') or 0) - (f_.get('raw_rows') or 0):,} | "
          f"{_s(l_['seconds'])} | {l_.get('silver_rows') or 0:,} |")
        w(f"\n**Last day / full run = {inc['ratio'] * 100:.0f}%** (one measurement). Stages of the "
          f"last-day run: " + ", ".join(f"{k} {val:.1f} s" for k, val in l_["stage_seconds"].items())
          + "; of the full run: " + ", ".join(f"{k} {val:.1f} s" for k, val in f_["stage_seconds"].items())
          + ".\n")
        if inc.get("note"):
            w(f"Note: {inc['note']}\n")

    w("## 3. Scale\n")
    w("| scale | rows | cartflow wall (median) | peak RSS | s per million rows |")
    w("|---|---|---|---|---|")
    for b in results.get("batch", []):
        c = b["summary"].get("cartflow", {})
        if c.get("ok"):
            rows = c["result"].get("raw_rows") or 0
            w(f"| {b['scale']} | {rows:,} | {_s(c['median'])} | {_rss(c['rss'])} | "
              f"{c['median'] / max(rows, 1) * 1e6:.1f} |")
    if not any(b["scale"] == 10 for b in results.get("batch", [])):
        w("| 10 | ≈ 5.4 M | not run in this invocation (time budget on a loaded 2-core machine): "
          "`uv run python -m benchmarks --scales 10 --runs 3` | | |")
    w("| 50 | ≈ 27 M | not run here: `uv run python -m benchmarks --scales 50 --runs 1 "
      "--skip pyspark,pandas,incremental,streaming` | | |\n")

    w("## 4. Streaming\n")
    st = results.get("streaming")
    if st and st.get("ok"):
        for k, val in st.items():
            if k != "ok":
                w(f"* {k}: {val}")
        w("")
    else:
        w("Not measured yet" + (f" ({st.get('error')})" if st else "") + ". `benchmarks/streaming.py` "
          "(server: `cartflow serve` on 127.0.0.1; load: `benchmarks/stream_client.py`, a separate "
          "process with a bounded httpx async client, batches of 500, 4 POSTs in flight, probe "
          "invoices polled through GET for POST-to-visible, then 32 concurrent GETs for 15 s) runs "
          "by default in `make bench`, but has not been run yet.\n")

    w("## 5. Multi-source extraction\n")
    w("Pending: PostgreSQL and paginated-API extraction throughput is not measured yet.\n")
    w("## How to run\n")
    w("```bash")
    w("make bench                                             # defaults: --scales 1,10 --runs 3, then incremental + streaming")
    w("uv run python -m benchmarks --scales 1 --runs 3 --incremental-scale 1   # the quick version")
    w("uv run python -m benchmarks --scales 50 --runs 1 --skip pyspark,pandas,incremental,streaming")
    w("uv run python -m benchmarks --render benchmarks/results.json          # re-render this page only")
    w("```\n")
    w("Each implementation is also runnable alone: `python -m benchmarks.impl_pandas CSV_DIR OUT_DIR` "
      "(likewise `impl_spark`, `impl_duckdb`, and `impl_cartflow full|incremental CSV_DIR PROJECT_DIR`). "
      "On this 2-core shared machine one scale-1 round (cartflow + pandas + PySpark + DuckDB) takes "
      "about 9 minutes, so the default `--scales 1,10 --runs 3` takes well over 30 minutes here; "
      "on an idle machine use the defaults, otherwise pass `--scales 1` or fewer `--runs`.\n")
    return "\n".join(out) + "\n"


def targets(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows, for the largest scale measured."""
    rows: list[tuple[str, str, str]] = []
    batches = [b for b in results.get("batch", []) if b["summary"].get("cartflow", {}).get("ok")]
    if batches:
        b = max(batches, key=lambda x: x["scale"])
        s = b["summary"]
        note = "" if b["scale"] >= 10 else f" (measured at scale {b['scale']}; the target is for scale 10)"
        for name, need in (("pandas", 3.0), ("pyspark", 10.0)):
            x = s.get(name)
            if x and x.get("ok") and x.get("ratio_median"):
                r = x["ratio_median"]
                rows.append((f"batch: {TARGETS_TEXT[name]}", (f"cartflow is {r:.2f}× faster" if r >= 1 else
                              f"{name} is {1 / r:.1f}× faster than cartflow") + note,
                             "met" if r >= need else "**missed**"))
        x = s.get("duckdb")
        if x and x.get("ok") and x.get("ratio_median"):
            r = 1 / x["ratio_median"]
            rows.append((f"batch: {TARGETS_TEXT['duckdb']}", f"cartflow takes {r:.1f}× the lower bound{note}",
                         "met" if r <= 4 else "**missed**"))
    fifty = [b for b in batches if b["scale"] >= 50]
    if fifty:
        c = fifty[0]["summary"]["cartflow"]
        rows.append(("scale 50: peak RSS ≤ 4 GiB", _rss(c["rss"]), "met" if c["rss"] <= 4 * GIB else "**missed**"))
    else:
        rows.append(("scale 50: peak RSS ≤ 4 GiB, time ≤ linear from scale 10", "not run in this invocation", "not measured"))
    inc = results.get("incremental")
    if inc and inc.get("ok"):
        note = "" if inc["scale"] >= 10 else f" (at scale {inc['scale']}; the target is for scale 10)"
        rows.append(("incremental day ≤ 10% of the full run", f"{inc['ratio'] * 100:.0f}%{note}",
                     "met" if inc["ratio"] <= 0.10 else "**missed**"))
    st = results.get("streaming") or {}
    if st.get("ok"):
        rows.append(("streaming ≥ 20,000 events/s, p99 POST-to-visible ≤ 1 s",
                     f"{st.get('events_per_s', 0):,.0f} events/s, p99 {st.get('visible_p99_ms', 0):.0f} ms",
                     "met" if st.get("events_per_s", 0) >= 20000 and st.get("visible_p99_ms", 1e9) <= 1000 else "**missed**"))
        rows.append(("serving ≥ 3,000 req/s, p99 ≤ 10 ms",
                     f"{st.get('get_rps', 0):,.0f} req/s, p99 {st.get('get_p99_ms', 0):.1f} ms",
                     "met" if st.get("get_rps", 0) >= 3000 and st.get("get_p99_ms", 1e9) <= 10 else "**missed**"))
    else:
        rows.append(("streaming ≥ 20,000 events/s, p99 POST-to-visible ≤ 1 s; serving ≥ 3,000 req/s, p99 ≤ 10 ms",
                     "not measured yet", "not measured"))
    return rows


def render_targets(results: dict[str, Any]) -> str:
    lines = ["## Targets (issue 5)\n", "| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in targets(results)]
    text = analysis(results)
    if text:
        lines += ["", text]
    return "\n".join(lines) + "\n"


def analysis(results: dict[str, Any]) -> str:
    """Why the missed targets are missed, from the run's own stage timings."""
    batches = [b for b in results.get("batch", []) if b["summary"].get("cartflow", {}).get("ok")]
    if not batches:
        return ""
    b = max(batches, key=lambda x: x["scale"])
    c = b["summary"]["cartflow"]
    st = c.get("stages", {})
    total = c["inner_median"]
    ddb = b["summary"].get("duckdb", {})
    pdx = b["summary"].get("pandas", {})
    inc = results.get("incremental") or {}
    fixed = None
    if inc.get("ok"):
        fixed = inc["last_day"]["seconds"]
    out = ["### Why, and what would fix it\n"]
    out.append(
        f"At scale {b['scale']} cartflow's pipeline takes {_s(total)} (process: {_s(c['median'])}): "
        + ", ".join(f"{k} {v:.1f} s ({v / total * 100:.0f}%)" for k, v in st.items()) + ". "
        f"The DuckDB lower bound reads and writes the same CSV in {_s(ddb.get('median'))} and pandas "
        f"does the whole job in {_s(pdx.get('median'))}, so the time is not in parsing the CSV "
        f"(cartflow's own `bronze` stage, which does that plus lineage columns, takes "
        f"{st.get('bronze', 0):.1f} s); it is in `transform` and `publish`.\n")
    out.append(
        "* **`publish`** covers two things the stage timer does not separate: exporting every "
        "gold mart to Parquet in the lake (atomic per table) and refreshing the SQLite serving "
        "store with every new gold order line (a keyed upsert of ~all rows on a first load, with "
        "the store's indexes maintained per row). Neither pandas nor Spark does either. The export "
        "is a handful of DuckDB `COPY`s of small marts, so the serving-store upsert is the likely "
        "bulk of it; next step: time the two apart (split the stage into `publish` and `serving`). "
        "Fix if confirmed: on a first load or an empty store, bulk-load (create the table without "
        "indexes, insert in large transactions, build the indexes after), or build the serving "
        "database as a file and swap it in atomically.")
    inc_text = ""
    if inc.get("ok"):
        ft, lt = inc["full"]["stage_seconds"].get("transform", 0), inc["last_day"]["stage_seconds"].get("transform", 0)
        lrows = (inc["last_day"].get("raw_rows") or 0) - (inc["full"].get("raw_rows") or 0)
        inc_text = (
            f" The incremental benchmark shows how little of it scales with the data: loading "
            f"one day ({lrows:,} rows) still spends {lt:.0f} s in `transform`, against {ft:.0f} s "
            f"for the {inc['days'] - 1} days before it ({lt / max(ft, 1e-9) * 100:.0f}%).")
    out.append(
        "* **`transform` (SQLMesh)** runs all 14 gold models, SCD2 dimensions, audits and the "
        "reconciliation, not only the three marts the others compute. Part of it is SQLMesh's "
        "fixed per-run cost — loading the project, fingerprinting the models, planning, state "
        "reads and writes, one query per audit — a few seconds per run on an idle machine, "
        "whatever the data size." + inc_text + " The rest of that non-proportional time is the "
        "gold layer's `FULL` models (every revenue mart, top products, RFM, cohorts, purchase "
        "history, quarantine summary), which are rebuilt from the whole `fct_order_line` on every "
        "run, plus the SCD2 recomputation of every touched customer and product from its whole "
        "history. This is why the incremental-day target (≤ 10%) is missed. Fixes, in order of "
        "payoff: (1) make the period marts incremental by period (`INCREMENTAL_BY_TIME_RANGE` or "
        "by unique key on `period_start`, recomputing only the periods the new batches touch); "
        "(2) rebuild customer marts (RFM, purchase history) only for touched customers where "
        "the definition allows it (RFM's quintiles are global, so it stays FULL but reads a "
        "per-customer aggregate table instead of all lines); (3) keep a warm SQLMesh context in "
        "a long-lived process (`cartflow watch`/scheduler) so project load and plan are paid "
        "once; (4) measure a no-op run (no new files) to put an exact number on the fixed cost.")
    out.append(
        "* **The machine**: 2 cores at a load average around 10 means every process gets a fraction "
        "of a core; cartflow (several DuckDB threads + SQLite) and Spark (a JVM with 2 executor "
        "threads) suffer more from that than single-threaded pandas, so the pandas ratio is "
        "probably pessimistic for cartflow. Re-run on an idle machine before drawing conclusions "
        "from the absolute times.")
    return "\n".join(out) + "\n"
