"""The DuckDB same-job baseline: the pandas baseline's whole job as one DuckDB SQL script.

    python -m benchmarks.impl_duckdb_job CSV_DIR OUT_DIR

`benchmarks/duckdb_job.sql` reads the CSVs, applies the cleaning rules in order, drops
duplicates, writes silver and quarantine Parquet and the three marts, exactly as
`benchmarks/impl_pandas.py` does. It is the floor for what cartflow's engine (DuckDB) can do
with this job; `benchmarks/impl_duckdb.py` (one CSV-to-Parquet copy) is the floor for reading
the data at all. It runs under the same memory limit as cartflow's warehouse by default
(`[warehouse] memory_limit`, 2GB) on every core.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb

from benchmarks.harness import emit

SCRIPT = Path(__file__).with_name("duckdb_job.sql")
MEMORY_LIMIT = os.environ.get("CARTFLOW_BENCH_DUCKDB_MEMORY", "2GB")
"""cartflow's default `[warehouse] memory_limit`, so the floor plays by the same rules."""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def script(csv_dir: Path, out: Path) -> str:
    """The SQL script with its paths and settings filled in."""
    values = {
        "{csv_glob}": _literal(str(csv_dir / "*.csv")),
        "{out}": str(out).replace("'", "''"),
        "{temp_directory}": str(out / ".spill").replace("'", "''"),
        "{memory_limit}": MEMORY_LIMIT,
        "{threads}": str(os.cpu_count() or 1),
    }
    text = SCRIPT.read_text()
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def main(csv_dir: str, out_dir: str) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute(script(Path(csv_dir), out))
        raw_rows = con.execute("SELECT count(*) FROM raw_lines").fetchone()[0]
        reasons = dict(con.execute(
            "SELECT reason, count(*) FROM classified WHERE reason IS NOT NULL GROUP BY 1 ORDER BY 2 DESC").fetchall())
        silver_rows = con.execute("SELECT count(*) FROM lines").fetchone()[0]
        rfm = con.execute(f"SELECT count(*) FROM '{out / 'mart_customer_rfm.parquet'}'").fetchone()[0]
    finally:
        con.close()
    result = {"raw_rows": raw_rows, "silver_rows": silver_rows, "quarantine_rows": sum(reasons.values()),
              "quarantine": reasons, "rfm_customers": rfm}
    emit(result)
    return result


if __name__ == "__main__":
    main(*sys.argv[1:3])
