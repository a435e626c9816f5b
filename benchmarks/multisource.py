"""Comparison 5: extraction throughput from PostgreSQL and from the paginated APIs.

The sandbox (`cartflow.sandbox`: the customer API, the exchange-rate API and the products
database) is started in a child process with generated rows at `--sandbox-scale` (1 = 1,000
rows per entity) on an embedded PostgreSQL, or on the server named by
`CARTFLOW_BENCH_PG_DSN`. Each round extracts every source into an empty lake with cartflow's
own extractors (`extract_postgres`, `extract_http`), so the figures are cartflow's: rows
read, converted to Arrow / JSON pages and landed as raw batches, watermark included.

    python -m benchmarks.multisource WORK SCALE ROUNDS     # the child; prints one JSON line
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.harness import emit, run_child

API_KEY = "bench-customer-key"
KEY_ENV = "CARTFLOW_BENCH_CUSTOMER_API_KEY"
DSN_ENV = "CARTFLOW_BENCH_SOURCE_DSN"
PAGE_SIZE = 1000  # the customer API's largest page


def run(work: Path, scale: float = 100, rounds: int = 3) -> dict[str, Any]:
    """Run the child; never raises (benchmarks report failures instead)."""
    m = run_child("multi-source extraction", "benchmarks.multisource", [str(work), str(scale), str(rounds)],
                  timeout=1800)
    if not m.ok:
        return {"ok": False, "error": m.error}
    return {"ok": True, **m.result, "peak_rss_mib": round(m.peak_rss_bytes / 2**20)}


def _toml(info: Any, schema: str) -> str:
    return f"""
[project]
name = "bench-multi-source"

[sources.customers]
kind = "http"
entity = "customers"
url = "{info.customers_url}"
records_path = "data"
auth = {{ type = "api_key", token_env = "{KEY_ENV}", header = "X-API-Key" }}
pagination = {{ style = "page", page_size = {PAGE_SIZE} }}

[sources.exchange_rates]
kind = "http"
entity = "exchange_rates"
url = "{info.fx_url}/legacy/exchange_rates"
rate_base = "USD"

[sources.products]
kind = "postgres"
entity = "products"
dsn_env = "{DSN_ENV}"
table = "{schema}.products"
key = ["product_id"]
incremental = {{ column = "updated_at" }}

[sources.transactions]
kind = "postgres"
entity = "transactions"
dsn_env = "{DSN_ENV}"
table = "{schema}.transactions"
key = ["transaction_id"]
incremental = {{ column = "updated_at" }}
"""


def _round(project_dir: Path) -> dict[str, dict[str, float]]:
    """Extract every source once into a fresh lake and state; rows (or records) and seconds per source."""
    from cartflow.config import HttpSource, load_project
    from cartflow.lake.storage import open_lake
    from cartflow.runtime.backends import open_state
    from cartflow.runtime.progress import QuietReporter
    from cartflow.sources.http import extract_http
    from cartflow.sources.postgres import extract_postgres

    shutil.rmtree(project_dir / "lake", ignore_errors=True)
    shutil.rmtree(project_dir / ".cartflow", ignore_errors=True)
    project = load_project(project_dir)
    storage, state = open_lake(project), open_state(project)
    out: dict[str, dict[str, float]] = {}
    try:
        for name, source in project.config.sources.items():
            if isinstance(source, HttpSource):
                got = extract_http(storage, state, QuietReporter(), name, source, "bench")
                out[name] = {"rows": got.records, "pages": got.pages, "seconds": got.seconds}
            else:
                pg = extract_postgres(storage, state, QuietReporter(), name, source, "bench")
                out[name] = {"rows": pg.rows, "chunks": pg.chunks, "seconds": pg.seconds}
    finally:
        state.close()
    return out


def child(work: Path, scale: float, rounds: int) -> None:
    from cartflow.sandbox.server import Sandbox, SandboxOptions

    dsn = os.environ.get("CARTFLOW_BENCH_PG_DSN", "embedded")
    data_dir = Path(tempfile.mkdtemp(prefix="sandbox-", dir=work))
    options = SandboxOptions(ports={"customers": 0, "fx": 0, "products": 0}, api_key=API_KEY, scale=scale,
                             postgres=dsn, pg_schema="bench_sources", data_dir=data_dir)
    sandbox = Sandbox(options)
    info = sandbox.start(timeout=600)
    try:
        os.environ[KEY_ENV] = API_KEY
        os.environ[DSN_ENV] = info.postgres_dsn or dsn
        project_dir = work / "multisource-project"
        project_dir.mkdir(parents=True, exist_ok=True)
        (project_dir / "cartflow.toml").write_text(_toml(info, options.pg_schema), encoding="utf-8")
        per_round = [_round(project_dir) for _ in range(rounds)]
    finally:
        sandbox.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    summary: dict[str, Any] = {}
    for name in per_round[0]:
        secs = [r[name]["seconds"] for r in per_round]
        rows = per_round[-1][name]["rows"]
        summary[name] = {
            **{k: v for k, v in per_round[-1][name].items() if k != "seconds"},
            "median_s": round(statistics.median(secs), 3), "min_s": round(min(secs), 3),
            "max_s": round(max(secs), 3),
            "rows_per_s": round(rows / statistics.median(secs)) if statistics.median(secs) else None,
        }
    emit({"sandbox_scale": scale, "rounds": rounds, "postgres": "embedded" if dsn == "embedded" else "given",
          "page_size": PAGE_SIZE, "sources": summary})


if __name__ == "__main__":
    child(Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]))
