"""Issue 15's targets table and where cartflow's time goes (per model, per stage), for docs/benchmarks.md.

Every ratio is taken within one invocation: cartflow and the baseline it is divided by ran in
the same round, and the light commands and the bare import in the same round; the page
shows the median of those per-round ratios.
"""

from __future__ import annotations

from typing import Any

GIB = 2**30
TARGET_SCALE = 10
STREAM_SETUP = "three processes"
PACED_TARGET_RATE = 20_000


def _s(x: float | None) -> str:
    return "–" if x is None else (f"{x:.1f} s" if x >= 1 else f"{x * 1000:.0f} ms")


def _verdict(ok: bool, caveat: str = "") -> str:
    return ("yes" if ok else "**no**") + (f" ({caveat})" if caveat else "")


def batch_at(results: dict[str, Any], scale: float) -> dict[str, Any] | None:
    return next((b for b in results.get("batch", []) if b["scale"] == scale
                 and b["summary"].get("cartflow", {}).get("ok")), None)


def _compared(results: dict[str, Any]) -> dict[str, Any] | None:
    """Scale 10 if it was measured, else the largest scale where pandas ran too (flagged on the page)."""
    ten = batch_at(results, TARGET_SCALE)
    if ten:
        return ten
    with_pandas = [b for b in results.get("batch", []) if b["summary"].get("cartflow", {}).get("ok")
                   and b["summary"].get("pandas", {}).get("ok")]
    return max(with_pandas, key=lambda b: b["scale"]) if with_pandas else None


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, now, target, met?) for every target row of issue 15."""
    out: list[tuple[str, str, str, str]] = []
    not_run = "not measured in this invocation"
    b = _compared(results)
    caveat = "" if not b or b["scale"] == TARGET_SCALE else f"at scale {b['scale']:g}"
    for name, label, target in (("pandas", "pandas baseline", 0.5), ("pyspark", "PySpark local", 0.2),
                                ("duckdb_job", "DuckDB same-job baseline", 2.5)):
        measure = (f"scale 10, fresh project, `cartflow run` until the marts are published / {label}"
                   if name == "pandas" else f"same / {label}")
        x = (b or {}).get("summary", {}).get(name) or {}
        if not x or not x.get("ok") or not (x.get("cartflow_over") or x.get("ratio_median")):
            out.append((measure, not_run if not x else f"failed: {x.get('error', '')}", f"≤ {target}×", "–"))
            continue
        c = b["summary"]["cartflow"]
        whole = x.get("cartflow_over") or 1 / x["ratio_median"]  # results written before issue 15 lack it
        marts = x.get("cartflow_marts_over")
        value = marts if marts is not None else whole
        now = (f"**{value:.2f}×** (" + (f"marts published at {_s(c.get('marts_published_median'))}, " if marts else "")
               + f"whole process {_s(c['median'])} = {whole:.2f}×; {name} {_s(x['median'])})")
        if caveat:
            now += f", {caveat}"
        out.append((measure, now, f"≤ {target}×", _verdict(value <= target, caveat)))

    inc = results.get("incremental") or {}
    measure = "last day of a daily-split scale-10 project / its full load (cold CLI)"
    if inc.get("ok"):
        cav = "" if inc["scale"] == TARGET_SCALE else f"at scale {inc['scale']:g}"
        now = (f"**{inc['ratio'] * 100:.0f}%** ({_s(inc['last_day']['seconds'])} / {_s(inc['full']['seconds'])}"
               + (", cold CLI" if inc.get("cli") else ", in-process") + (f", {cav}" if cav else "") + ")")
        out.append((measure, now, "≤ 10%", _verdict(inc["ratio"] <= 0.10, cav)))
    else:
        out.append((measure, f"failed: {inc['error']}" if inc else not_run, "≤ 10%", "–"))

    ten, fifty = batch_at(results, 10), batch_at(results, 50)
    if ten and fifty:
        c10, c50 = ten["summary"]["cartflow"], fifty["summary"]["cartflow"]
        t = c50["median"] / c10["median"]
        n = (c50["result"].get("raw_rows") or 0) / max(c10["result"].get("raw_rows") or 1, 1)
        out.append(("scale 50 time / scale 10 time", f"**{t:.2f}×** for {n:.2f}× the rows "
                    f"({_s(c50['median'])} / {_s(c10['median'])})", "≤ 5.0× (linear)", _verdict(t <= 5.0)))
    else:
        out.append(("scale 50 time / scale 10 time", not_run, "≤ 5.0× (linear)", "–"))
    if fifty:
        rss = fifty["summary"]["cartflow"]["rss"]
        out.append(("scale 50 peak RSS", f"**{rss / GIB:.2f} GiB**", "≤ 3 GiB", _verdict(rss <= 3 * GIB)))
    else:
        out.append(("scale 50 peak RSS", not_run, "≤ 3 GiB", "–"))

    light = results.get("light") or {}
    for name, measure, target in (
            ("cartflow run (nothing new)", "no-op `cartflow run` (nothing new), whole process / bare "
                                           "`python -c \"import duckdb\"`", 8),
            ("cartflow sql", "`cartflow sql \"SELECT count(*) FROM mart_revenue_monthly\"`, whole process / "
                             "the same bare import", 5)):
        x = (light.get("commands") or {}).get(name)
        if not x:
            out.append((measure, f"failed: {light['error']}" if light.get("error") else not_run, f"≤ {target}×", "–"))
            continue
        bare = light["commands"]["import duckdb"]
        out.append((measure, f"**{x['over_import']:.1f}×** ({_s(x['median'])} / {_s(bare['median'])})",
                    f"≤ {target}×", _verdict(x["over_import"] <= target)))

    st = results.get("streaming") or {}
    setup = next((x for x in st.get("setups") or [] if x.get("setup", "").startswith(STREAM_SETUP)), None)
    measure = "stream: events/s accepted, three-process setup, batches of 500"
    if setup and setup.get("ok"):
        out.append((measure, f"**{setup['events_per_s']:,}**", "≥ 25,000", _verdict(setup["events_per_s"] >= 25_000)))
    else:
        out.append((measure, (setup or {}).get("error") or not_run, "≥ 25,000", "–"))
    measure = f"stream: p99 POST→visible at a paced {PACED_TARGET_RATE:,} events/s (three processes)"
    paced = next((p for p in (setup or {}).get("paced") or [] if p["events_per_s"] == PACED_TARGET_RATE), None)
    if paced:
        late = f"> {paced.get('probe_timeout_s', 30):.0f} s"
        p99 = late if paced["p99_ms"] is None else f"{paced['p99_ms']:,.0f} ms"
        p50 = late if paced["p50_ms"] is None else f"{paced['p50_ms']:,.0f} ms"
        now = (f"**{p99}** (p50 {p50}; {paced['achieved_events_per_s']:,} events/s accepted while sending; "
               f"{paced['probes_seen']} of {paced['probes_sent']} probes seen)")
        ok = paced["p99_ms"] is not None and paced["p99_ms"] <= 1000
        out.append((measure, now, "≤ 1 s", _verdict(ok)))
    else:
        out.append((measure, not_run, "≤ 1 s", "–"))
    return out


def render_targets(results: dict[str, Any]) -> str:
    lines = ["## Targets (issue 15)\n", "| measure | now | target | met? |", "|---|---|---|---|"]
    lines += [f"| {m} | {n} | {t} | {v} |" for m, n, t, v in rows(results)]
    return "\n".join(lines) + "\n"


def render_profile(results: dict[str, Any], top: int = 10) -> str:
    """The per-model table (top models by seconds at each measured scale) and the stage split."""
    profiled = [b for b in results.get("batch", []) if b["summary"].get("cartflow", {}).get("model_seconds")]
    if not profiled:
        return ""
    out = ["## Where cartflow's time goes\n",
           "Per model: seconds each SQLMesh model took to evaluate in a fresh `cartflow run` (the transform "
           "runner's own `TransformResult.model_seconds`, plan backfill and run summed; median of the "
           f"rounds), the top {top} at each scale measured, ordered by the largest scale.\n"]
    largest = profiled[-1]["summary"]["cartflow"]["model_seconds"]
    names: list[str] = []
    for b in profiled:
        ms = b["summary"]["cartflow"]["model_seconds"]
        names += [n for n in sorted(ms, key=lambda n: -ms[n])[:top] if n not in names]
    names.sort(key=lambda n: -largest.get(n, 0.0))
    out.append("| model | " + " | ".join(f"scale {b['scale']:g}: s (share)" for b in profiled) + " |")
    out.append("|---" * (len(profiled) + 1) + "|")
    for name in names:
        cells = []
        for b in profiled:
            ms = b["summary"]["cartflow"]["model_seconds"]
            total = sum(ms.values()) or 1
            if name not in ms:
                cells.append("–")
                continue
            in_top = name in sorted(ms, key=lambda n: -ms[n])[:top]
            cells.append(f"{ms[name]:.2f} ({ms[name] / total * 100:.0f}%)" + ("" if in_top else " ·"))
        out.append(f"| `{name}` | " + " | ".join(cells) + " |")
    out.append("")
    out.append("; ".join(
        f"scale {b['scale']:g}: {len(b['summary']['cartflow']['model_seconds'])} models, "
        f"{sum(b['summary']['cartflow']['model_seconds'].values()):.1f} s of model evaluation"
        for b in profiled) + ". A `·` marks a model outside that scale's top " + f"{top}.\n")

    out.append("Stage split of the whole `cartflow run` process (median seconds): start-up and imports, "
               "then the pipeline's stages, with SQLMesh's step cut into loading the project, planning "
               "and running the models, and publishing cut into the marts' Parquet export and the "
               "serving-store refresh. The parts add up to the process's wall time.\n")
    parts = list(dict.fromkeys(k for b in profiled for k in b["summary"]["cartflow"].get("split", {})))
    out.append("| scale | " + " | ".join(parts) + " | process | marts published at |")
    out.append("|---" * (len(parts) + 3) + "|")
    for b in profiled:
        c = b["summary"]["cartflow"]
        sp = c.get("split", {})
        out.append(f"| {b['scale']:g} | " + " | ".join(f"{sp.get(k, 0):.1f}" for k in parts)
                   + f" | {c['median']:.1f} | {_s(c.get('marts_published_median'))} |")
    out.append("")
    return "\n".join(out) + "\n"
