"""The Typer application and its command groups; each command lives in the module of its group."""

from __future__ import annotations

import typer


app = typer.Typer(
    help="cartflow: ingest, standardize, model and serve e-commerce data — one laptop to S3, Kafka, Spark.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
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
