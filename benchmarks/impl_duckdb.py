"""The lower bound: DuckDB reads the CSV (every column as text) and writes one Parquet file.

    python -m benchmarks.impl_duckdb CSV_DIR OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from benchmarks.harness import emit


def main(csv_dir: str, out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    pattern = str(Path(csv_dir) / "*.csv")
    con.execute(
        f"COPY (SELECT * FROM read_csv('{pattern}', all_varchar = true, header = true,"
        f" encoding = 'latin-1')) TO '{out / 'order_lines.parquet'}' (FORMAT parquet)"
    )
    rows = con.execute(f"SELECT COUNT(*) FROM '{out / 'order_lines.parquet'}'").fetchone()[0]
    emit({"raw_rows": rows})


if __name__ == "__main__":
    main(*sys.argv[1:3])
