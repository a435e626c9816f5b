"""The Typer application and its command groups; each command lives in the module of its group."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    help="cartflow: ingest, standardize, model and serve e-commerce data — one laptop to S3, Kafka, Spark.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"cartflow {version('cartflow')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "cartflow (version unknown: not installed)"


def _version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", help="Print cartflow's version and exit.",
                                               callback=_version, is_eager=True)] = False) -> None:
    """Start-up for every command: library warnings go to the log file, never the terminal."""
    from cartflow.runtime.logs import route_warnings

    route_warnings()


generate_app = typer.Typer(help="Generate realistic sample data.", no_args_is_help=True)
app.add_typer(generate_app, name="generate")
dlq_app = typer.Typer(help="Dead letters: list, inspect and replay what failed — quarantined rows, stream "
                           "rejects, rejected files.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
alerts_app = typer.Typer(help="Alerts: the alert log, and a test alert to check webhook/email settings.",
                         no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
sandbox_app = typer.Typer(help="The sandbox: Customer, exchange-rate and products APIs (127.0.0.1) and a seeded "
                               "PostgreSQL, with faults on demand.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
