"""Comparisons 1-3: batch end to end (cartflow vs pandas, PySpark, the DuckDB same-job baseline and
the DuckDB CSV-copy lower bound), scale, and the incremental day through the cold CLI."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import agreement
from benchmarks.harness import Measurement, run_child, run_command

IMPLEMENTATIONS = [
    ("cartflow", "benchmarks.impl_cartflow"),
    ("pandas", "benchmarks.impl_pandas"),
    ("pyspark", "benchmarks.impl_spark"),
    ("duckdb_job", "benchmarks.impl_duckdb_job"),
    ("duckdb", "benchmarks.impl_duckdb"),
]
LARGE_SCALE = 10
"""Above this scale only cartflow and the DuckDB lower bound run (the scale curve, issue 5 §3)."""
CARTFLOW = str(Path(sys.executable).parent / "cartflow")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def generate(work: Path, scale: float, split: str | None = None, seed: int = 7) -> Path:
    from cartflow.sandbox.retail_generator import generate_online_retail

    out = work / f"data-s{scale:g}{'-' + split if split else ''}"
    if not (out.exists() and any(out.glob("*.csv"))):
        out.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"split": split} if split else {}
        generate_online_retail(out, scale, seed, **kwargs)
    # Finished exports: a files source takes a file once it is `settle_seconds` old (default 5 s)
    # and waits for younger ones; data generated a moment ago would add that wait to cartflow's time.
    an_hour_ago = time.time() - 3600
    for f in out.glob("*.csv"):
        os.utime(f, (an_hour_ago, an_hour_ago))
    return out


def spark_available() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None


def run_batch(work: Path, scale: float, runs: int, skip: set[str]) -> dict[str, Any]:
    data = generate(work, scale)
    log(f"scale {scale:g}: data in {data}")
    rounds: list[dict[str, dict[str, Any]]] = []
    checks: dict[str, Any] = {}
    for i in range(runs):
        this: dict[str, dict[str, Any]] = {}
        outs: dict[str, Path] = {}
        for name, module in IMPLEMENTATIONS:
            if name in skip or (name == "pyspark" and not spark_available()):
                continue
            out = work / f"out-s{scale:g}-{name}"
            shutil.rmtree(out, ignore_errors=True)
            args = ["full", str(data), str(out)] if name == "cartflow" else [str(data), str(out)]
            m: Measurement = run_child(name, module, args)
            log(f"scale {scale:g} run {i + 1}/{runs} {name}: {m.seconds:.1f}s, "
                f"{m.peak_rss_bytes / 2**20:.0f} MiB{'' if m.ok else ' FAILED: ' + m.error}")
            this[name] = {"seconds": m.seconds, "rss": m.peak_rss_bytes, "ok": m.ok,
                          "result": m.result, "error": m.error}
            outs[name] = out
        if i == 0:  # the outputs are the same every round: check them once, outside the timings
            checks = check_outputs(outs, this)
        for out in outs.values():
            shutil.rmtree(out, ignore_errors=True)
        rounds.append(this)
    return {"scale": scale, "runs": runs, "rounds": rounds, "summary": summarize(rounds), "checks": checks}


def check_outputs(outs: dict[str, Path], measured: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mart figures of every implementation, and line-for-line differences from the pandas baseline.

    cartflow is compared on the marts it published, PySpark on its marts (its lineage columns are
    Spark's file URI and a 0-based row id, so its lines cannot be matched by source row); the
    DuckDB same-job baseline on every output. A failed check is reported, never raised.
    """
    def side(name: str, out: Path) -> dict[str, Path]:
        if name == "cartflow":
            return agreement.cartflow_outputs(out)
        files = agreement.job_outputs(out)
        return {k: v for k, v in files.items() if k in agreement.MARTS} if name == "pyspark" else files

    sides = {name: side(name, out) for name, out in outs.items() if name != "duckdb" and measured[name]["ok"]}
    checks: dict[str, Any] = {"digests": {}, "differences": {}, "compared": {}}
    for name, side in sides.items():
        try:
            checks["digests"][name] = agreement.digest(side)
        except Exception as exc:  # noqa: BLE001
            checks["digests"][name] = {"error": f"{type(exc).__name__}: {exc}"}
    reference = sides.get("pandas")
    if reference is not None:
        for name, side in sides.items():
            if name == "pandas":
                continue
            try:
                checks["compared"][name] = agreement.checked(reference, side)
                checks["differences"][name] = agreement.differences(reference, side)
            except Exception as exc:  # noqa: BLE001
                checks["differences"][name] = [f"could not compare: {type(exc).__name__}: {exc}"]
    return checks


def summarize(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    names = [n for n, _ in IMPLEMENTATIONS if any(n in r for r in rounds)]
    summary: dict[str, Any] = {}
    for name in names:
        ok = [r[name] for r in rounds if name in r and r[name]["ok"]]
        if not ok:
            summary[name] = {"ok": False, "error": next(r[name]["error"] for r in rounds if name in r)}
            continue
        secs = [x["seconds"] for x in ok]
        pairs = [(r["cartflow"], r[name]) for r in rounds
                 if name in r and r[name]["ok"] and "cartflow" in r and r["cartflow"]["ok"]]
        ratios = [other["seconds"] / cf["seconds"] for cf, other in pairs]
        marts = [cf["result"]["marts_published_at"] / other["seconds"] for cf, other in pairs
                 if cf["result"].get("marts_published_at")]
        summary[name] = {
            "ok": True, "n": len(ok),
            "median": statistics.median(secs), "min": min(secs), "max": max(secs),
            "rss": max(x["rss"] for x in ok),
            "ratio_median": statistics.median(ratios) if ratios else None,
            "ratio_min": min(ratios) if ratios else None,
            "ratio_max": max(ratios) if ratios else None,
            # the issue-15 direction: cartflow's time over this implementation's, per round
            "cartflow_over": statistics.median(1 / x for x in ratios) if ratios else None,
            "cartflow_marts_over": statistics.median(marts) if marts else None,
            "result": ok[-1]["result"],
        }
        if name == "cartflow":
            summary[name].update(_cartflow_profile(ok))
    # Do the implementations agree with cartflow on the row counts?
    warnings = []
    ref = summary.get("cartflow", {}).get("result", {})
    for name in names:
        res = summary[name].get("result") if summary[name].get("ok") else None
        if not res or name == "cartflow" or not ref:
            continue
        keys = ["raw_rows"] if name == "duckdb" else ["raw_rows", "silver_rows", "quarantine_rows"]
        for key in keys:
            if res.get(key) != ref.get(key):
                warnings.append(f"{name} {key} = {res.get(key)} but cartflow has {ref.get(key)}")
    summary["_warnings"] = warnings
    return summary


def _median_map(dicts: list[dict[str, float]]) -> dict[str, float]:
    keys = list(dict.fromkeys(k for d in dicts for k in d))
    return {k: statistics.median(d.get(k, 0.0) for d in dicts) for k in keys}


def _cartflow_profile(ok: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds: stages, steps, the SQLMesh phases, per-model seconds, the process split."""
    results = [x["result"] for x in ok]
    profile: dict[str, Any] = {
        "stages": _median_map([r.get("stage_seconds", {}) for r in results]),
        "steps": _median_map([r.get("step_seconds", {}) for r in results]),
        "inner_median": statistics.median(r["seconds"] for r in results),
        "marts_published_median": (statistics.median(r["marts_published_at"] for r in results)
                                   if all(r.get("marts_published_at") for r in results) else None),
    }
    transforms = [r["transform"] for r in results if r.get("transform")]
    if transforms:
        profile["model_seconds"] = _median_map([t["model_seconds"] for t in transforms])
        profile["split"] = _median_map([split(x) for x in ok])
    return profile


def split(x: dict[str, Any]) -> dict[str, float]:
    """Where one cartflow process's wall time went, in parts that add up to it."""
    r = x["result"]
    stages, steps, t = r.get("stage_seconds", {}), r.get("step_seconds", {}), r.get("transform") or {}
    marks = {text.removeprefix("transform: ").split(" ")[0]: offset for offset, text in r.get("transform_marks") or []}
    load = marks.get("planning", marks.get("models", 0.0))  # "models unchanged since the last plan"
    plan_total, run = t.get("plan_seconds", 0.0), t.get("run_seconds", 0.0)
    marts, serving = steps.get("publish", 0.0), steps.get("serving store", 0.0)
    parts = {
        "start, imports, exit": x["seconds"] - r["seconds"],
        "extract": stages.get("extract", 0.0),
        "bronze": stages.get("bronze", 0.0),
        "SQLMesh load": min(load, plan_total),
        "SQLMesh plan": max(plan_total - load, 0.0),
        "SQLMesh run": run,
        "marts export": marts,
        "serving store": serving,
    }
    parts["reconcile, quality, other"] = x["seconds"] - sum(parts.values())
    return {k: round(v, 3) for k, v in parts.items()}


def cartflow_cli(name: str, *args: str, timeout: float = 3600) -> Measurement:
    return run_command(name, [CARTFLOW, *args], timeout=timeout)


def last_run_stats(project: Path) -> dict[str, Any]:
    """The newest run's recorded stats (stage seconds, rows per layer) from the project's state store."""
    from cartflow.config import load_project
    from cartflow.runtime.backends import open_state

    state = open_state(load_project(project))
    try:
        runs = state.runs(limit=1)
    finally:
        state.close()
    return json.loads(runs[0]["stats"]) if runs and runs[0].get("stats") else {}


def link(files: list[Path], landing: Path) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    for f in files:
        target = landing / f.name
        try:
            os.link(f, target)
        except OSError:
            shutil.copy(f, target)


def run_incremental(work: Path, scale: float) -> dict[str, Any]:
    """Daily files: `cartflow run` over every day but the last, then over the last day, each a cold CLI process.

    The project is kept in `work/inc-s<scale>` for the light-command benchmark (benchmarks/light.py).
    """
    data = generate(work, scale, split="daily")
    files = sorted(data.glob("*.csv"))
    project = work / f"inc-s{scale:g}"
    shutil.rmtree(project, ignore_errors=True)
    init = cartflow_cli("cartflow init", "init", str(project))
    if not init.ok:
        return {"scale": scale, "ok": False, "error": init.error}
    landing = project / "landing" / "online_retail"
    runs: dict[str, Any] = {}
    for label, batch in (("full", files[:-1]), ("last_day", files[-1:])):
        link(batch, landing)
        m = cartflow_cli(f"cartflow run ({label})", "run", "--project", str(project))
        if not m.ok:
            return {"scale": scale, "ok": False, "error": f"{label}: {m.error}"}
        stats = last_run_stats(project)
        runs[label] = {"seconds": m.seconds, "rss": m.peak_rss_bytes, "stage_seconds": stats.get("stage_seconds", {}),
                       "raw_rows": stats.get("layer_rows", {}).get("raw"),
                       "silver_rows": stats.get("layer_rows", {}).get("silver")}
    full, last = runs["full"], runs["last_day"]
    log(f"incremental scale {scale:g}: full {full['seconds']:.1f}s, last day {last['seconds']:.1f}s (cold CLI)")
    return {"scale": scale, "ok": True, "cli": True, "project": str(project), "rss": max(full["rss"], last["rss"]),
            "full": full, "last_day": last, "days": len(files), "last_file": files[-1].name,
            "ratio": last["seconds"] / full["seconds"]}
