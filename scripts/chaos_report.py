"""Render the figures of the last `make chaos` (docs/chaos-results.json) into docs/reliability.md.

    python scripts/chaos_report.py docs/chaos-results.json docs/reliability.md

Replaces what stands between the `chaos-figures:start` and `chaos-figures:end` markers; the rest
of the document is left as it is. Fails (exit 1) when the results hold no figures at all.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

START, END = "<!-- chaos-figures:start -->", "<!-- chaos-figures:end -->"
STAGE_ORDER = ("start-up", "extract", "bronze", "transform: plan", "transform: run", "quality", "publish: marts",
               "publish: serving store", "between stages", "after its end")


def counts(values: dict[str, int], order: tuple[str, ...] = ()) -> str:
    keys = [k for k in order if k in values] + sorted(k for k in values if k not in order)
    return ", ".join(f"{k} {values[k]:,}" for k in keys)


def rows(suites: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    if s := suites.get("schemathesis"):
        out.append(("Schemathesis, `--checks all`", f"{s['requests']:,} requests over {s['operations']} operations",
                    f"{s['failures'] + s['errors']}"))
    if s := suites.get("property suite"):
        out.append(("Property suite (hypothesis)", f"{s.get('runs', 0)} runs of `cartflow run`, {s.get('lines', 0):,} "
                    f"lines posted: {s.get('accepted', 0):,} accepted (gold {s.get('gold', 0):,}, quarantine "
                    f"{s.get('quarantined', 0):,}), {s.get('rejected', 0):,} rejected", str(s["failures"])))
    if s := suites.get("kill points"):
        out.append(("Kill points (`kill -9`)", f"{s['points']} kills (seed {s['seed']}), each then a clean rerun: "
                    f"{counts(s['by_stage'], STAGE_ORDER)}; scenarios {counts(s['by_scenario'])}",
                    str(s["failures"])))
    if s := suites.get("file fuzz"):
        out.append(("File fuzz", f"{s['files']:,} mutated files (seed {s['seed']}) in {sum(s['runs'].values())} runs "
                    f"({counts(s['runs'])}), {s['rewritten_after_landing']} of them rewritten after landing, beside "
                    f"{s['good_files']} good files: {s['landed']:,} landed (raw {s['rows']['raw']:,} = silver "
                    f"{s['rows']['silver']:,} + quarantine {s['rows']['quarantine']:,}), rejected by code: "
                    f"{counts(s['rejected_by_code'])}", str(s["failures"])))
    return out


def render(results: dict[str, Any]) -> str:
    table = rows(results["suites"])
    if not table:
        raise SystemExit("no chaos figures in the results: did `make chaos` run the suites?")
    minutes = results["seconds"] / 60
    lines = [START, "",
             f"Last `make chaos`: {results['finished_at'].replace('T', ' ')}, {minutes:.0f} minutes on "
             f"{results['machine']}, {len(results['tests'])} tests, {len(results['failed_tests'])} failed.", "",
             "| suite | what ran | failures |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in table]
    if results["failed_tests"]:
        lines += ["", "Failed: " + ", ".join(f"`{t}`" for t in results["failed_tests"])]
    return "\n".join(lines + ["", END])


def main(results_path: str, doc_path: str) -> None:
    results = json.loads(Path(results_path).read_text())
    doc = Path(doc_path)
    text = doc.read_text()
    block = render(results)
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{doc_path} has no {START} ... {END} block to fill")
    doc.write_text(pattern.sub(lambda _: block, text))
    print(block)


if __name__ == "__main__":
    main(*sys.argv[1:3])
