"""Machine facts, and docs/benchmarks.md rendered from the results dict."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

from benchmarks.analysis import analysis, compared_batch
from benchmarks.misses import render_misses
from benchmarks.report_sections import render_checks, render_light
from benchmarks.targets import render_profile
from benchmarks.targets import render_targets as render_issue15

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


def _ms(value: float | None, phase: dict[str, Any]) -> str:
    """A paced phase's percentile: None means it fell on a probe never seen within the timeout."""
    return f"> {phase.get('probe_timeout_s', 30):.0f} s" if value is None else f"{value:,} ms"


def _load(x: list[float] | None) -> str:
    return " / ".join(f"{v:.2f}" for v in x) if x else "?"


def _command(args: dict[str, Any]) -> str:
    parts = [f"--scales {args.get('scales')}", f"--runs {args.get('runs')}"]
    for key in ("pyspark_scales", "incremental_scale", "skip"):
        if args.get(key):
            value = f"{args[key]:g}" if isinstance(args[key], float) else args[key]
            parts.append(f"--{key.replace('_', '-')} {value}")
    return "python -m benchmarks " + " ".join(parts)


def _shared_note(results: dict[str, Any]) -> str:
    m = results["machine"]
    # at the start, before the benchmark's own processes: one busy core or more means other work ran too
    busy = (m.get("load_start") or [0])[0] >= 1.0
    return (f"Measured {results.get('started', '?')} → {results.get('finished', '?')} with `{_command(results.get('args', {}))}` "
            f"on {m['cores']} cores; **load average at the start {_load(m.get('load_start'))}, at the end "
            f"{_load(results.get('load_end'))}** (1/5/15 min)."
            + (" **The machine was shared with other work while measuring**: the absolute times are "
               "pessimistic; the ratios, taken within each round, are the comparable part." if busy else "")
            + " (The benchmark itself keeps one or two cores busy, so the load at the end includes its own.)")


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    v = m["versions"]
    args = results.get("args", {})
    out: list[str] = []
    w = out.append
    w("# Benchmarks\n")
    w("Written by `make bench` (`python -m benchmarks`, every row below in one invocation) or `make "
      "bench-quick` (scale 1, one round); the raw figures are in `benchmarks/results.json`. Benchmarks "
      "are not tests: they never fail CI.\n")
    w(render_issue15(results))
    w(render_misses(results))
    w(_shared_note(results) + (f" {args['note']}" if args.get("note") else "") + "\n")
    w("Every implementation runs in its own subprocess, one after the other, so wall time is "
      "the whole process (interpreter start, imports and JVM start included) and peak RSS is per "
      "process tree (the max of `wait4` `ru_maxrss` and a 100 ms psutil poll of the tree's summed "
      "RSS, which catches Spark's JVM). Times are the **median (min–max)** of the runs; "
      "**ratios are computed within each round** (implementation time / cartflow time of the same "
      "round) and then the median is taken, because this machine is shared and noisy.\n")
    w(render_profile(results))
    w("## Machine and versions\n")
    w(f"* started {results.get('started', '?')}; command: `{_command(args)}`")
    w(f"* CPU: {m['cpu']}, **{m['cores']} cores**; RAM {m['ram_bytes'] / GIB:.1f} GiB; {m['os']}")
    w(f"* load average at start: {_load(m.get('load_start'))} (1/5/15 min), at the end: "
      f"{_load(results.get('load_end'))}. A load above the core count means every figure is slower than "
      f"on an idle machine.")
    bytecode = results.get("bytecode")
    if bytecode:
        w(f"* bytecode caches of the virtualenv and `src/` written before measuring ({bytecode['seconds']} s, "
          f"`compileall`): every process imports from `__pycache__`, as in a user's environment after its "
          f"first run"
          + (f"; this machine sets `PYTHONDONTWRITEBYTECODE={bytecode['PYTHONDONTWRITEBYTECODE']}`, without "
             "which Python writes them itself" if bytecode.get("PYTHONDONTWRITEBYTECODE") else "") + ".")
    elif results.get("started"):
        w("* bytecode caches: not checked by this invocation (results written before the harness compiled them).")
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
    w("* **DuckDB same-job baseline** (`benchmarks/impl_duckdb_job.py`, `benchmarks/duckdb_job.sql`): the "
      "pandas job (read, the rules in order, dedup, silver + quarantine Parquet, the three marts) as one "
      "DuckDB SQL script on an in-memory database, under the same 2GB memory limit as cartflow's warehouse; "
      "money as DECIMAL(18,3). The honest floor for cartflow's engine.")
    w("* **DuckDB lower bound** (`benchmarks/impl_duckdb.py`): `COPY (SELECT * FROM read_csv(…, "
      "all_varchar)) TO 'x.parquet'`, nothing else.\n")
    for b in results.get("batch", []):
        s = b["summary"]
        rows = s.get("cartflow", {}).get("result", {}).get("raw_rows")
        w(f"### Scale {b['scale']}" + (f" ({rows:,} rows)" if rows else "") + f", {b['runs']} run{'s' if b['runs'] != 1 else ''}"
          + (f" (measured by the invocation started {b['reused_from']}, kept with `--reuse`)" if b.get("reused_from") else "")
          + "\n")
        w("| implementation | wall time, median (min–max) | peak RSS | time / cartflow, median (min–max) | "
          "cartflow / this |")
        w("|---|---|---|---|---|")
        for name in ("cartflow", "pandas", "pyspark", "duckdb_job", "duckdb"):
            x = s.get(name)
            if not x:
                continue
            if not x["ok"]:
                w(f"| {name} | failed: {x.get('error', '')} | | | |")
                continue
            over = "–" if name == "cartflow" or x.get("cartflow_over") is None else f"{x['cartflow_over']:.2f}×"
            w(f"| {name} | {_s(x['median'])} ({_s(x['min'])}–{_s(x['max'])}) | {_rss(x['rss'])} | "
              f"{_ratio(x)} | {over} |")
        w("")
        if s.get("_warnings"):
            w("**⚠ The implementations disagree:** " + "; ".join(s["_warnings"]) + "\n")
        elif s.get("cartflow", {}).get("ok"):
            r = s["cartflow"]["result"]
            w(f"Agreement check: every implementation read {r.get('raw_rows'):,} rows and the "
              f"full ones produced {r.get('silver_rows'):,} silver and {r.get('quarantine_rows'):,} "
              f"quarantine rows, as cartflow did ({r.get('quarantine')}).\n")
        w(render_checks(b.get("checks") or {}))
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
            if c.get("steps"):
                w("Finer, from the steps the run reports (a timing reporter passed to `run_pipeline`; "
                  "`publish` is the marts' export, `serving store` the refresh of the SQLite store): "
                  + ", ".join(f"{k} {val:.1f} s" for k, val in c["steps"].items()) + ".")
                marks = c["result"].get("transform_marks") or []
                if marks:
                    w(" Inside the SQLMesh step of the last run (seconds from its start): "
                      + "; ".join(f"{t:.1f} {text.removeprefix('transform: ')}" for t, text in marks) + ".")
                w("")

    w("## 2. Incremental\n")
    inc = results.get("incremental")
    if not inc:
        w("Not run in this invocation.\n")
    elif not inc.get("ok"):
        w(f"Failed: {inc.get('error')}\n")
    else:
        f_, l_ = inc["full"], inc["last_day"]
        how = ("each run a cold `cartflow run --project P` process (interpreter start and imports "
               "included), its stage seconds read back from the run history"
               if inc.get("cli") else "both runs in one process")
        w(f"Daily-split data at scale {inc['scale']:g} ({inc['days']} daily files): one run loads every "
          f"day but the last, a second run loads the last day ({inc['last_file']}) into the same "
          f"project; {how}.\n")
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
        if l_.get("step_seconds"):
            w("Steps of the last-day run: " + ", ".join(f"{k} {val:.1f} s" for k, val in l_["step_seconds"].items())
              + (("; inside SQLMesh: " + "; ".join(f"{t:.1f} {x.removeprefix('transform: ')}"
                                                  for t, x in l_.get("transform_marks") or [])) if l_.get("transform_marks") else "")
              + ".\n")
        if inc.get("note"):
            w(f"Note: {inc['note']}\n")

    w("## 3. Scale\n")
    w("| scale | rows | runs | cartflow wall, median | peak RSS | s per million rows | time / scale-10 time | "
      "rows / scale-10 rows |")
    w("|---|---|---|---|---|---|---|---|")
    ten = next((b["summary"]["cartflow"] for b in results.get("batch", [])
                if b["scale"] == 10 and b["summary"].get("cartflow", {}).get("ok")), None)
    for b in results.get("batch", []):
        c = b["summary"].get("cartflow", {})
        if c.get("ok"):
            rows = c["result"].get("raw_rows") or 0
            growth = (f"{c['median'] / ten['median']:.2f}× | {rows / max(ten['result'].get('raw_rows') or 1, 1):.2f}×"
                      if ten else "– | –")
            w(f"| {b['scale']} | {rows:,} | {b['runs']} | {_s(c['median'])} | {_rss(c['rss'])} | "
              f"{c['median'] / max(rows, 1) * 1e6:.1f} | {growth} |")
    w("")
    staged = [b for b in results.get("batch", []) if b["summary"].get("cartflow", {}).get("stages")]
    if staged:
        names = list(dict.fromkeys(k for b in staged for k in b["summary"]["cartflow"]["stages"]))
        w("Where the time goes per stage (median seconds, from the run's own `stage_seconds`):\n")
        w("| scale | " + " | ".join(names) + " | pipeline |")
        w("|---" * (len(names) + 2) + "|")
        for b in staged:
            c = b["summary"]["cartflow"]
            w(f"| {b['scale']} | " + " | ".join(f"{c['stages'].get(k, 0):.1f}" for k in names)
              + f" | {c['inner_median']:.1f} |")
        w("")

    w("## 4. Streaming and serving\n")
    st = results.get("streaming")
    if st and st.get("ok"):
        w(f"`cartflow serve` (API + stream consumers in one process, SQLite stream log, embedded "
          f"defaults) on 127.0.0.1; the load from a separate process. {st['events_sent']:,} Online "
          f"Retail lines POSTed to `/v1/order-lines` in batches of {st['batch_size']}, "
          f"{st['post_concurrency']} requests in flight; every 10th batch carries a probe invoice "
          f"that the client polls with `GET /v1/invoices/{{no}}` until it answers."
          + (f" (Measured by the invocation started {st['reused_from']}, carried over with `--reuse`.)"
             if st.get("reused_from") else "") + "\n")
        w("| measure | value |")
        w("|---|---|")
        w(f"| events accepted / s | **{st['events_per_s']:,}** ({st['events_accepted']:,} accepted, "
          f"{st['events_rejected']:,} rejected by validation, {st['post_errors']} failed requests) |")
        w(f"| POST → visible in GET, p50 / p99 | **{st['visible_p50_ms']} ms / {st['visible_p99_ms']} ms** "
          f"({st['visible_probes']} of {st['probes_sent']} probes seen) |")
        w(f"| GET, Python client ({st['get_concurrency']} in flight, 15 s) | {st['get_rps']:,} req/s, "
          f"p50 {st['get_p50_ms']} ms, p99 {st['get_p99_ms']} ms, {st['get_non_200']} non-200 |")
        if st.get("paced"):
            for x in st["paced"]:
                w(f"| POST → visible at a steady {x['events_per_s']:,} events/s (batches of {x['batch']}, "
                  f"a probe every {x['batch'] * x.get('probe_every', 1):,} events), p50 / p99 | **{_ms(x['p50_ms'], x)} / {_ms(x['p99_ms'], x)}** ({x['probes_seen']} of "
                  f"{x['probes_sent']} probes seen; {x['achieved_events_per_s']:,} events/s accepted) |")
        elif st.get("paced_visible_p50_ms") is not None:
            w(f"| POST → visible at a steady {st['paced_events_per_s']:,} events/s (batches of "
              f"{st['paced_batch']}, every batch a probe), p50 / p99 | **{st['paced_visible_p50_ms']} ms / "
              f"{st['paced_visible_p99_ms']} ms** ({st['paced_probes']} probes) |")
        for x in _wrk_runs(st):
            w(f"| GET, wrk, `cartflow serve --workers {x.get('workers', 1)}`, {x['connections']} connections, "
              f"{x['seconds']} s | **{x['rps']:,} req/s, p50 {x['p50_ms']} ms, p99 {x['p99_ms']} ms**, "
              f"{x['non_2xx']} non-2xx |")
        w("")
        setups = [x for x in st.get("setups") or [] if x.get("ok")]
        if len(setups) > 1:
            w("The same load against each way of running the stream (a fresh project each):\n")
            rates = [p["events_per_s"] for p in setups[0].get("paced") or []]
            w("| setup | events accepted / s | POST → visible flat out, p50 / p99 | "
              + (" | ".join(f"at a steady {r:,}/s, p50 / p99" for r in rates) if rates
                 else "at a steady rate, p50 / p99") + " |")
            w("|---" * (3 + max(len(rates), 1)) + "|")
            for x in setups:
                paced = ([f"{_ms(p['p50_ms'], p)} / {_ms(p['p99_ms'], p)}" for p in x.get("paced") or []]
                         or [f"{x.get('paced_visible_p50_ms')} / {x.get('paced_visible_p99_ms')} ms"])
                w(f"| {x['setup']} | {x['events_per_s']:,} | {x['visible_p50_ms']} / {x['visible_p99_ms']} ms | "
                  + " | ".join(paced) + " |")
            w("")
        w("The Python client shares the 2 cores with the server and costs about as much CPU per "
          "request as the server does, so its req/s is a floor; wrk's figure is the server's.\n")
    else:
        w("Not measured in this invocation" + (f" (failed: {st.get('error')})" if st else "") + ".\n")

    w("## 5. Multi-source extraction\n")
    ms = results.get("multisource")
    if ms and ms.get("ok"):
        w(f"The sandbox's systems with generated rows (sandbox scale {ms['sandbox_scale']:g}), "
          f"PostgreSQL {ms['postgres']}, {ms['rounds']} rounds, each into an empty lake through "
          f"cartflow's own extractors: rows read, converted, landed as raw batches, watermark "
          f"advanced. API pages of {ms['page_size']} records.\n")
        w("| source | kind | rows | pages / chunks | seconds, median (min–max) | rows / s |")
        w("|---|---|---|---|---|---|")
        for name, x in ms["sources"].items():
            kind = "HTTP API" if "pages" in x else "PostgreSQL"
            parts = x.get("pages", x.get("chunks"))
            w(f"| {name} | {kind} | {x['rows']:,} | {parts} | {x['median_s']:.2f} "
              f"({x['min_s']:.2f}–{x['max_s']:.2f}) | **{x['rows_per_s']:,}** |")
        w("")
    else:
        w("Not measured in this invocation" + (f" (failed: {ms.get('error')})" if ms else "") + ".\n")
    w(render_light(results.get("light")))
    w("## How to run\n")
    w("```bash")
    w("make bench          # every row above: scales 1, 10 and 50 (one round), PySpark at 10, the incremental day")
    w("                    # at 10, light commands, streaming, multi-source: ~25 min on an idle 2-core machine")
    w("make bench-quick    # scale 1, one round, no PySpark, no multi-source: ~10 min")
    w('make bench BENCH_ARGS="--runs 3"                                      # medians of three rounds (~20 min more)')
    w("uv run python -m benchmarks --scales 10 --skip pyspark,pandas,streaming,multisource,light")
    w("uv run python -m benchmarks --render benchmarks/results.json          # re-render this page only")
    w("```\n")
    w("Each implementation is also runnable alone: `python -m benchmarks.impl_pandas CSV_DIR OUT_DIR` "
      "(likewise `impl_spark`, `impl_duckdb_job`, `impl_duckdb`, and `impl_cartflow full|incremental CSV_DIR "
      "PROJECT_DIR`). `tests/test_bench_baselines.py` checks that the pandas and DuckDB same-job baselines "
      "agree line for line. "
      f"The invocation behind this page ran from {results.get('started', '?')} to "
      f"{results.get('finished', '?')} on the machine above. Streaming and serving use `wrk` when it is on "
      "PATH (`apt-get install wrk`).\n")
    return "\n".join(out) + "\n"


def targets(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows, for the largest scale measured."""
    rows: list[tuple[str, str, str]] = []
    batches = [b for b in results.get("batch", []) if b["summary"].get("cartflow", {}).get("ok")]
    b = compared_batch(results)
    if b:
        s = b["summary"]
        note = "" if b["scale"] >= 10 else f" (measured at scale {b['scale']}; the target is for scale 10)"
        for name, need in (("pandas", 3.0), ("pyspark", 10.0)):
            x = s.get(name)
            if x and x.get("ok") and x.get("ratio_median"):
                r = x["ratio_median"]
                rows.append((f"batch: {TARGETS_TEXT[name]}", (f"cartflow is {r:.2f}× faster" if r >= 1 else
                              f"{name} is {1 / r:.2f}× faster than cartflow") + note,
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
        ten = next((b["summary"]["cartflow"] for b in batches if b["scale"] == 10), None)
        if ten:
            t = c["median"] / ten["median"]
            n = (c["result"].get("raw_rows") or 0) / max(ten["result"].get("raw_rows") or 1, 1)
            rows.append(("scale 50: time grows no faster than linearly from scale 10",
                         f"{t:.2f}× the time for {n:.2f}× the rows", "met" if t <= n * 1.05 else "**missed**"))
    else:
        rows.append(("scale 50: peak RSS ≤ 4 GiB, time ≤ linear from scale 10", "not run in this invocation", "not measured"))
    inc = results.get("incremental")
    if inc and inc.get("ok"):
        note = "" if inc["scale"] >= 10 else f" (at scale {inc['scale']:g}; the target is for scale 10)"
        rows.append(("incremental day ≤ 10% of the full run", f"{inc['ratio'] * 100:.0f}%{note}",
                     "met" if inc["ratio"] <= 0.10 else "**missed**"))
    st = results.get("streaming") or {}
    if st.get("ok"):
        fastest = max([x for x in st.get("setups") or [] if x.get("ok")] or [st], key=lambda x: x.get("events_per_s", 0))
        rows.append(("streaming: ≥ 20,000 events/s accepted (batches of 500)",
                     f"{fastest.get('events_per_s', 0):,.0f} events/s" + (f" ({fastest['setup'].split(':')[0]})"
                                                                          if fastest.get("setup") else ""),
                     "met" if fastest.get("events_per_s", 0) >= 20000 else "**missed**"))
        paced = st.get("paced_visible_p99_ms")
        rows.append(("streaming: p99 POST-to-visible ≤ 1 s",
                     f"p99 {st.get('visible_p99_ms', 0):,.0f} ms flat out (queueing behind the backlog)"
                     + (f"; p99 {paced:,.0f} ms at a steady {st['paced_events_per_s']:,} events/s" if paced else ""),
                     ("met at the steady rate, **missed** flat out" if paced and paced <= 1000 < st.get("visible_p99_ms", 0)
                      else "met" if st.get("visible_p99_ms", 1e9) <= 1000 else "**missed**")))
        runs = _wrk_runs(st) or [{"rps": st.get("get_rps", 0), "p99_ms": st.get("get_p99_ms", 1e9),
                                  "connections": st.get("get_concurrency"), "workers": 1}]
        met = [x for x in runs if x["rps"] >= 3000 and x["p99_ms"] <= 10]
        best = met[0] if met else max(runs, key=lambda x: x["rps"])
        rows.append(("serving ≥ 3,000 req/s, p99 ≤ 10 ms",
                     f"{best['rps']:,.0f} req/s, p99 {best['p99_ms']:.1f} ms ({best.get('workers', 1)} worker(s), "
                     f"{best['connections']} connections; every configuration in §4)",
                     "met" if met else "**missed**"))
    else:
        rows.append(("streaming ≥ 20,000 events/s, p99 POST-to-visible ≤ 1 s; serving ≥ 3,000 req/s, p99 ≤ 10 ms",
                     "not measured yet", "not measured"))
    return rows


def _wrk_runs(st: dict[str, Any]) -> list[dict[str, Any]]:
    """wrk results: a list (one per workers × connections), or one dict in older results files."""
    wrk = st.get("wrk")
    runs = wrk if isinstance(wrk, list) else ([wrk] if wrk else [])
    return [x for x in runs if x.get("rps") is not None]


def render_targets(results: dict[str, Any]) -> str:
    lines = ["## Earlier targets (issue 5)\n", "| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in targets(results)]
    text = analysis(results)
    if text:
        lines += ["", text]
    return "\n".join(lines) + "\n"
