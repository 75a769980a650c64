"""The ``warren`` typer application; each command group lives in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="warren",
    help="Warren: event-driven services on RabbitMQ — run, inspect and operate them.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


@app.callback()
def main() -> None:
    """Warren: event-driven services on RabbitMQ — run, inspect and operate them."""
