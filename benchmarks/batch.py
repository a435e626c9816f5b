"""Comparisons 1-3: batch end to end (cartflow vs pandas vs PySpark vs DuckDB), scale, incremental."""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.harness import Measurement, run_child

IMPLEMENTATIONS = [
    ("cartflow", "benchmarks.impl_cartflow"),
    ("pandas", "benchmarks.impl_pandas"),
    ("pyspark", "benchmarks.impl_spark"),
    ("duckdb", "benchmarks.impl_duckdb"),
]
LARGE_SCALE = 10
"""Above this scale only cartflow and the DuckDB lower bound run (the scale curve, issue 5 §3)."""


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def generate(work: Path, scale: int, split: str | None = None, seed: int = 7) -> Path:
    from cartflow.sandbox.retail_generator import generate_online_retail

    out = work / f"data-s{scale}{'-' + split if split else ''}"
    if out.exists() and any(out.glob("*.csv")):
        return out
    out.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"split": split} if split else {}
    generate_online_retail(out, scale, seed, **kwargs)
    return out


def spark_available() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None


def run_batch(work: Path, scale: int, runs: int, skip: set[str]) -> dict[str, Any]:
    data = generate(work, scale)
    log(f"scale {scale}: data in {data}")
    rounds: list[dict[str, dict[str, Any]]] = []
    for i in range(runs):
        this: dict[str, dict[str, Any]] = {}
        for name, module in IMPLEMENTATIONS:
            if name in skip or (name == "pyspark" and not spark_available()):
                continue
            out = work / f"out-s{scale}-{name}"
            shutil.rmtree(out, ignore_errors=True)
            args = ["full", str(data), str(out)] if name == "cartflow" else [str(data), str(out)]
            m: Measurement = run_child(name, module, args)
            log(f"scale {scale} run {i + 1}/{runs} {name}: {m.seconds:.1f}s, "
                f"{m.peak_rss_bytes / 2**20:.0f} MiB{'' if m.ok else ' FAILED: ' + m.error}")
            this[name] = {"seconds": m.seconds, "rss": m.peak_rss_bytes, "ok": m.ok,
                          "result": m.result, "error": m.error}
            shutil.rmtree(out, ignore_errors=True)
        rounds.append(this)
    return {"scale": scale, "runs": runs, "rounds": rounds, "summary": summarize(rounds)}


def summarize(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    names = [n for n, _ in IMPLEMENTATIONS if any(n in r for r in rounds)]
    summary: dict[str, Any] = {}
    for name in names:
        ok = [r[name] for r in rounds if name in r and r[name]["ok"]]
        if not ok:
            summary[name] = {"ok": False, "error": next(r[name]["error"] for r in rounds if name in r)}
            continue
        secs = [x["seconds"] for x in ok]
        ratios = [r[name]["seconds"] / r["cartflow"]["seconds"] for r in rounds
                  if name in r and r[name]["ok"] and "cartflow" in r and r["cartflow"]["ok"]]
        summary[name] = {
            "ok": True, "n": len(ok),
            "median": statistics.median(secs), "min": min(secs), "max": max(secs),
            "rss": max(x["rss"] for x in ok),
            "ratio_median": statistics.median(ratios) if ratios else None,
            "ratio_min": min(ratios) if ratios else None,
            "ratio_max": max(ratios) if ratios else None,
            "result": ok[-1]["result"],
        }
        if name == "cartflow":
            stages: dict[str, list[float]] = {}
            for x in ok:
                for k, v in x["result"].get("stage_seconds", {}).items():
                    stages.setdefault(k, []).append(v)
            summary[name]["stages"] = {k: statistics.median(v) for k, v in stages.items()}
            steps: dict[str, list[float]] = {}
            for x in ok:
                for k, v in x["result"].get("step_seconds", {}).items():
                    steps.setdefault(k, []).append(v)
            summary[name]["steps"] = {k: statistics.median(v) for k, v in steps.items()}
            summary[name]["inner_median"] = statistics.median(x["result"]["seconds"] for x in ok)
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


def run_incremental(work: Path, scale: int) -> dict[str, Any]:
    data = generate(work, scale, split="daily")
    out = work / f"inc-s{scale}"
    shutil.rmtree(out, ignore_errors=True)
    m = run_child("cartflow incremental", "benchmarks.impl_cartflow", ["incremental", str(data), str(out)])
    shutil.rmtree(out, ignore_errors=True)
    if not m.ok:
        return {"scale": scale, "ok": False, "error": m.error}
    full, last = m.result["full"], m.result["last_day"]
    log(f"incremental scale {scale}: full {full['seconds']:.1f}s, last day {last['seconds']:.1f}s")
    return {"scale": scale, "ok": True, "rss": m.peak_rss_bytes, **m.result,
            "ratio": last["seconds"] / full["seconds"]}
