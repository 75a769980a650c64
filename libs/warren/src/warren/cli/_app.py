"""The ``warren`` typer application; each command group lives in its own module."""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import httpx
import typer
from aiormq.exceptions import AMQPError

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
    except (OSError, AMQPError, httpx.HTTPError) as error:
        typer.echo(f"warren: {unreachable(error)}", err=True)
        raise SystemExit(1) from None


def unreachable(error: BaseException) -> str:
    """One line for the common ways a command cannot reach the broker or its management API."""
    text = str(error)
    if isinstance(error, httpx.HTTPStatusError) and error.response.status_code == 404:
        return (
            f"{error.request.url.path} not found on the management API: is the vhost in "
            "AMQP_URL right (warren's is 'warren')?"
        )
    if "Connection.Close" in text or "NOT_ALLOWED" in text or "ACCESS_REFUSED" in text:
        return (
            "the broker closed the connection: a wrong vhost in AMQP_URL, or a user without "
            "access to it"
        )
    return (
        f"cannot reach the broker or its management API ({type(error).__name__}: {text}); "
        "is RabbitMQ running (make run starts a local one)?"
    )
