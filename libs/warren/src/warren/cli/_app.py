"""The ``warren`` typer application; each command group lives in its own module."""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

from warren.cli._project import ProjectError

app = typer.Typer(
    name="warren",
    help="Warren: event-driven services on RabbitMQ — run, inspect and operate them.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"warren {version('warren-platform')}")
        raise typer.Exit


@app.callback()
def callback(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    """Warren: event-driven services on RabbitMQ — run, inspect and operate them."""


def main() -> None:
    """The ``warren`` command: the app, with a project's usage mistakes as one-line errors."""
    try:
        app()
    except ProjectError as error:
        typer.echo(f"warren: {error}", err=True)
        raise SystemExit(2) from None
