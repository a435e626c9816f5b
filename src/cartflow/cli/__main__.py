"""`python -m cartflow.cli`."""

from cartflow.cli import app

app()
