"""Why a target is missed and what would fix it, from the run's own timings (docs/benchmarks.md).

The figures come from the results; the profiles quoted for streaming and serving were taken
with py-spy (`py-spy record -p <cartflow serve pid>`) while `benchmarks/stream_client.py`
and wrk ran, on the same machine, and are not re-measured by `make bench`.
"""

from __future__ import annotations

from typing import Any


def _s(x: float | None) -> str:
    return "–" if x is None else (f"{x:.1f} s" if x < 100 else f"{x:.0f} s")


def compared_batch(results: dict[str, Any]) -> dict[str, Any] | None:
    """The batch the targets are judged on: scale 10 if measured, else the largest with pandas."""
    batches = [b for b in results.get("batch", []) if b["summary"].get("cartflow", {}).get("ok")]
    ten = [b for b in batches if b["scale"] == 10]
    full = [b for b in batches if b["summary"].get("pandas", {}).get("ok")]
    return (ten or sorted(full, key=lambda b: b["scale"])[-1:] or sorted(batches, key=lambda b: b["scale"])[-1:]
            or [None])[0]


def _phases(marks: list[list[Any]] | None, total: float) -> str:
    """'context 7.3 s, plan 11.2 s, models 25.1 s' from the SQLMesh step's marks."""
    if not marks:
        return ""
    points = {text.removeprefix("transform: ").split(" ")[0]: t for t, text in marks}
    start, plan = points.get("planning") or points.get("models"), points.get("running")
    if start is None or plan is None:
        return ""
    return f"loading the project {start:.1f} s, planning {plan - start:.1f} s, running the models {total - plan:.1f} s"


def analysis(results: dict[str, Any]) -> str:
    b = compared_batch(results)
    if not b:
        return ""
    c = b["summary"]["cartflow"]
    stages, steps = c.get("stages", {}), c.get("steps", {})
    total = c["inner_median"]
    ddb, pdx = b["summary"].get("duckdb", {}), b["summary"].get("pandas", {})
    sqlmesh = steps.get("silver + gold (SQLMesh)", stages.get("transform", 0))
    phases = _phases(c["result"].get("transform_marks"), sqlmesh)
    out = ["### Why, and what would fix it\n"]
    out.append(
        f"**Batch.** At scale {b['scale']} cartflow's pipeline takes {_s(total)} (the process {_s(c['median'])}, "
        f"the rest being interpreter start and imports): "
        + ", ".join(f"{k} {v:.1f} s ({v / total * 100:.0f}%)" for k, v in stages.items()) + ". "
        f"The DuckDB lower bound parses the same CSV and writes it once in {_s(ddb.get('median'))}; cartflow's "
        f"`bronze` stage does that job plus lineage columns in {stages.get('bronze', 0):.1f} s, so parsing is "
        f"not the gap. pandas does one pass (read, clean, write, three marts) in {_s(pdx.get('median'))}. "
        f"cartflow writes every row several more times, by design: the raw copy, bronze Parquet, "
        f"`silver.order_lines`, `gold.fct_order_line` (5.4 M wide rows at scale 10), every gold model and "
        f"the published marts, then the serving store; it keeps SCD2 history, runs the audits and "
        f"reconciles raw against silver + quarantine. SQLMesh's step"
        + (f" splits as {phases}" if phases else "") + ".\n")
    out.append(
        "What was fixed while measuring (each in its own commit, figures at scale 1 on the idle "
        "machine of the previous run): the serving refresh stages the gold lines through DuckDB's "
        "sqlite extension and upserts them in one statement (11 s → 5 s); the DuckDB adapter "
        "merges unique-key models without SQLMesh's temporary copy and `DISTINCT ON` "
        "(`fct_order_line` 3.2 s → 1.7 s); the pipeline skips SQLMesh's plan when the project "
        "is unchanged since the last applied plan (≈ 5 s per run after the first); every heavy "
        "DuckDB connection runs under `[warehouse] memory_limit` (default 2GB), which took the "
        "scale-10 peak RSS from 3.9 GiB to 2.6 GiB at the same wall time.\n")
    out.append(
        "What would close more of the gap, in order of payoff: (1) `stg_order_lines` is a view "
        "read twice (by `silver.order_lines` and `silver.quarantine_order_lines`), so the cleaning "
        "rules run twice over every new row: materialise the staged batch once; (2) make "
        "`fct_order_line` a view over `silver.order_lines` joined to the SCD2 keys instead of a "
        "second persisted copy of every line (writing 5.3 M wide rows to a DuckDB table costs "
        "≈ 8 s at scale 10 whatever the settings); (3) build the serving store outside the run "
        f"(a background refresh swapped in atomically), so the batch finishes when gold does "
        f"(its step takes {steps.get('serving store', 0):.0f} s here, most of it SQLite maintaining the "
        "primary key and invoice index while 5 M lines go in); "
        "(4) keep SQLMesh's context warm in long-lived processes (`cartflow watch`, the "
        "scheduler), which pays project loading once. Even all four keep cartflow above the "
        "lower bound by a wide margin: the 4× target compares a pipeline with history, audits "
        "and a serving store to a single CSV-to-Parquet copy, and pandas skips every one of "
        "those. The Spark comparison is the like-for-like one for a Glue-style job.\n")
    large = [x for x in results.get("batch", []) if x["scale"] > b["scale"] and x["summary"].get("cartflow", {}).get("ok")]
    if large and steps:
        big = large[-1]["summary"]["cartflow"]
        grow = {k: v / steps[k] for k, v in big.get("steps", {}).items() if steps.get(k)}
        rows = (big["result"].get("raw_rows") or 0) / max(c["result"].get("raw_rows") or 1, 1)
        out.append(
            f"**Scale.** From scale {b['scale']} to {large[-1]['scale']} the rows grow {rows:.2f}× and the "
            f"steps grow " + ", ".join(f"{k} {g:.2f}×" for k, g in grow.items()) + ". The superlinear "
            "part is the SQLite serving store (every insert descends a primary-key and an invoice "
            "B-tree that no longer fit in its page cache) and the SQLMesh models, whose joins and "
            "sorts spill to disk under the 2 GB DuckDB memory limit that keeps the peak RSS at "
            f"{big['rss'] / 2**30:.1f} GiB. Raising `[warehouse] memory_limit` trades memory for that "
            "time; building the serving store outside the run (above) removes the other part.\n")
    inc = results.get("incremental") or {}
    if inc.get("ok"):
        full, last = inc["full"], inc["last_day"]
        lsteps = last.get("step_seconds") or last.get("stage_seconds", {})
        out.append(
            f"**Incremental.** The last day takes {_s(last['seconds'])} against {_s(full['seconds'])} for the "
            f"full load ({inc['ratio'] * 100:.0f}%): " + ", ".join(f"{k} {v:.1f} s" for k, v in lsteps.items())
            + ". What does not shrink with one day: loading the SQLMesh project, evaluating all ~50 "
            "models once each (every model is a query, a state read and an interval write, even "
            "when it has no new rows), and the gold `FULL` models (revenue marts, top products, RFM, "
            "cohorts) which re-scan the whole `fct_order_line`. Fixes: run only the models "
            "downstream of entities that have new batches (`context.run(select_models=…)`), make "
            "the period marts incremental by period (recompute only the periods a batch touches), "
            "and keep the context warm in `cartflow watch`.\n")
    st = results.get("streaming") or {}
    if st.get("ok"):
        out.append(
            f"**Streaming.** {st['events_per_s']:,} events/s into one `cartflow serve` process. A py-spy "
            "profile of that process during the flat-out phase: about 56% of its busy samples are the "
            "two stream consumers (the serving sink decoding events and upserting lines ≈ 27%, the "
            "raw sink's NDJSON batches ≈ 15%, reading events back from the SQLite log ≈ 10%), about "
            "30% the ingest requests (JSON parsing and per-record validation ≈ 17%, the durable log "
            "append ≈ 15%), the rest the web framework. Every event is decoded and handled in Python about four times, in one "
            "interpreter, so the process is GIL-bound at ≈ 170 µs of CPU per event; fsync is not the "
            "limit (0.7 ms here, one per batch). The flat-out POST-to-visible figure is the backlog "
            "that builds when the client sends faster than the consumers drain; at a steady rate "
            "below saturation the same path answers in the paced figure above. Running the consumers in their own processes "
            "(`cartflow serve --no-consumers` plus `cartflow consume --only serving|raw`, the second "
            "setup in §4) stops ingest and sinks sharing one GIL. Further fixes: decode each event once (orjson) and hand the sinks columns "
            "(pyarrow) instead of dicts; validate a batch with vectorised checks.\n")
        out.append(
            "**Serving.** The first profile of `GET /v1/invoices/{no}` found ~0.5 ms per request in "
            "building `ServingLine` dataclasses with `Decimal` amounts, a dict, then validating and "
            "serialising it again through the response model, plus a thread-pool hop. SQLite now "
            "renders the document (`serving/documents.py`, checked field for field against the "
            "model) and the handler answers on the event loop, with uvicorn on uvloop and httptools: "
            "one worker went from 575 to ≈ 1,600 req/s, and two workers (one per core) carry the "
            "target, while sharing the two cores with wrk itself. What remains per request is about "
            "half the SQLite lookup of ~23 lines (index seek, row fetches, the sort by stock code) "
            "and half uvicorn/FastAPI. Next steps for headroom: an index on (invoice_no, stock_code, "
            "line_id) to drop the sort; store each line's rendered JSON at write time.\n")
    return "\n".join(out) + "\n"
