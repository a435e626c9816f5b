"""Why a target is missed and what would fix it, from the run's own timings (docs/benchmarks.md)."""

from __future__ import annotations

from typing import Any


def _s(x: float | None) -> str:
    return "–" if x is None else (f"{x:.1f} s" if x < 100 else f"{x:.0f} s")


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
