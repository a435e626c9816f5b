"""`python -m benchmarks` (= `make bench`): measure, then write docs/benchmarks.md.

    python -m benchmarks [--scales 1,10,50] [--runs 1] [--large-runs 1] [--pyspark-scales 10]
                         [--incremental-scale 10] [--light-rounds 5]
                         [--skip pyspark,pandas,duckdb_job,duckdb,incremental,light,streaming,multisource]
                         [--work DIR] [--json FILE] [--out FILE] [--reuse] [--note TEXT]
    python -m benchmarks --render FILE     # only re-render docs/benchmarks.md from saved results

`make bench` runs the defaults: every target row of issue 15 in one invocation (about
25 minutes on an idle 2-core machine, half of it cartflow at scale 50); `make
bench-quick` measures at scale 1 only, one round, without PySpark and multi-source.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import batch, report
from benchmarks.harness import compile_bytecode

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("incremental", "light", "streaming", "multisource")


def _scales(text: str) -> list[float]:
    return [int(x) if float(x).is_integer() else float(x) for x in (s.strip() for s in text.split(",")) if x]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("--scales", default="1,10,50", help="comma-separated generator scales (default 1,10,50)")
    p.add_argument("--runs", type=int, default=1,
                   help=f"rounds at scales up to {batch.LARGE_SCALE}, every implementation once per round (default 1)")
    p.add_argument("--large-runs", type=int, default=1,
                   help=f"runs at scales above {batch.LARGE_SCALE}, where only cartflow and the DuckDB lower "
                        "bound run (default 1)")
    p.add_argument("--pyspark-scales", default="10",
                   help="the scales PySpark runs at (default 10, where its ratio is a target; it is slower "
                        "than cartflow at scale 1)")
    p.add_argument("--incremental-scale", type=float, default=None,
                   help="scale of the incremental benchmark (default: the largest of --scales up to 10)")
    p.add_argument("--light-rounds", type=int, default=5,
                   help="rounds of the light commands (bare import, no-op run, one-row sql; default 5)")
    p.add_argument("--skip", default="", help="comma-separated: pyspark, pandas, duckdb_job, duckdb, incremental, "
                                              "light, streaming, multisource")
    p.add_argument("--work", default=None, help="scratch directory (default: a temporary one)")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results.json"),
                   help="where to save the raw results")
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    p.add_argument("--render", default=None, help="only render the page from this results file")
    p.add_argument("--note", default="", help="a sentence printed under the targets table (e.g. what else ran)")
    p.add_argument("--reuse", action="store_true",
                   help="keep from --json what this invocation does not measure: the skipped sections (incremental, "
                        "light, streaming, multisource) and the batch results of scales not in --scales")
    args = p.parse_args(argv)

    if args.render:
        results = json.loads(Path(args.render).read_text())
        Path(args.out).write_text(report.render(results))
        print(f"wrote {args.out}")
        return 0

    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    scales = _scales(args.scales)
    pyspark_scales = set(_scales(args.pyspark_scales))
    results: dict = {"machine": report.machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                     "args": vars(args), "batch": [], **{section: None for section in SECTIONS}}
    if args.reuse and Path(args.json).exists():
        previous = json.loads(Path(args.json).read_text())
        for section in SECTIONS:
            if section in skip and previous.get(section):
                results[section] = {**previous[section], "reused_from": previous.get("started")}
        # scales measured before but not now are kept (e.g. scale 1 from an earlier invocation)
        results["batch"] = [{**b, "reused_from": previous.get("started")} for b in previous.get("batch", [])
                            if b["scale"] not in scales]
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="cartflow-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        results["batch"].sort(key=lambda b: b["scale"])
        results["load_end"] = list(os.getloadavg())
        results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
        Path(args.out).write_text(report.render(results))

    results["bytecode"] = compile_bytecode()
    try:
        for scale in scales:
            large = scale > batch.LARGE_SCALE
            not_here = ({"pandas", "pyspark", "duckdb_job"} if large else set()) | (
                set() if scale in pyspark_scales else {"pyspark"})
            results["batch"].append(batch.run_batch(work, scale, args.large_runs if large else args.runs,
                                                    skip | not_here))
            save()
        if "incremental" not in skip:
            results["incremental"] = batch.run_incremental(work, args.incremental_scale or max(
                [s for s in scales if s <= batch.LARGE_SCALE] or [min(scales)]))
            save()
        if "light" not in skip:
            from benchmarks import light

            inc = results.get("incremental") or {}
            results["light"] = light.run(work, Path(inc["project"]) if inc.get("ok") else None, args.light_rounds)
            save()
        if "streaming" not in skip:
            try:
                from benchmarks import streaming
                results["streaming"] = streaming.run(work)
            except Exception as exc:  # benchmarks never fail: report it instead
                results["streaming"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            save()
        if "multisource" not in skip:
            from benchmarks import multisource
            results["multisource"] = multisource.run(work)
            save()
    finally:
        save()
    print(f"wrote {args.out} and {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
