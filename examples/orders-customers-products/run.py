"""The orders/customers/products example in one command:
`.venv/bin/python examples/orders-customers-products/run.py`.

Drops orders.csv, customers.json and products.csv into the landing inbox, serves the
products REST API from the sandbox, runs cartflow, then drops a customer's new address
and lets the API re-price a product, runs again, and prints the answers (SCD2 history
included). Everything it starts is stopped at the end. See README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cartflow.console import BarReporter, console, table
from cartflow.sandbox.workdir import NotOurs, replace_project_dir
from cartflow.sandbox.example_ocp import run_example

#: outside any checkout, whatever the current directory; the same path every time
DEFAULT_DIR = Path("~/cartflow-examples/orders-customers-products")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                        help=f"where the example project is created, replaced on each run (default: {DEFAULT_DIR})")
    parser.add_argument("--port-base", type=int, default=0,
                        help="serve the sandbox APIs on N, N+1, N+2 (127.0.0.1); default 0: free ports")
    args = parser.parse_args()
    directory = args.dir.expanduser()
    try:
        replace_project_dir(directory, "orders-customers-products")
    except NotOurs as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    with BarReporter() as reporter:
        run = run_example(directory, port_base=args.port_base, reporter=reporter)
    for i, result in enumerate(run.results, start=1):
        console.print(f"run {i} ({result.run_id}): {result.status}, {result.new_batches} new batch(es) "
                      f"in {result.seconds:.1f}s")
    if not run.ok:
        console.print(f"[red]error:[/] {run.results[-1].error if run.results else 'no run'}")
        return 1
    for title, (columns, rows) in run.answers.items():
        console.print(table(title, columns, rows))
    console.print(f"project in {run.project_dir}\n\nExplore:\n  .venv/bin/cartflow sql --project {run.project_dir} "
                  "\"SELECT * FROM fct_order_line\"", soft_wrap=True, highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
