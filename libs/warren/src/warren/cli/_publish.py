"""``warren publish``: send one event by hand, validated against its contract, with confirms.

Owns the operator's way to inject an event: read JSON, validate it with the event's pydantic
model, wrap it in the CloudEvents envelope and publish it to the producer's exchange through
``Broker`` (confirms, ``mandatory``). Invalid data never reaches the broker. Also owns the broker
options (``--amqp-url``, ``--management-url``) the operating commands share.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from aio_pika.abc import ExchangeType
from aiormq.exceptions import AMQPError, ChannelNotFoundEntity
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from warren.cli._app import app
from warren.cli._project import load_project
from warren.contracts.event import Event
from warren.contracts.registry import UnknownEventType
from warren.messaging import Broker, PublishError, UnroutableError
from warren.messaging.message import OutgoingMessage, prepare
from warren.messaging.url import vhost_of

DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/warren"

AmqpUrl = Annotated[
    str,
    typer.Option(
        "--amqp-url",
        envvar="AMQP_URL",
        help="broker URL with credentials and vhost: amqp://user:pass@host:5672/vhost",
        show_default=False,
    ),
]
ManagementUrl = Annotated[
    str,
    typer.Option(
        "--management-url",
        envvar="RABBITMQ_MANAGEMENT_URL",
        help="management API base URL (default: http://<amqp host>:15672, AMQP credentials)",
        show_default=False,
    ),
]


class Unpublishable(Exception):
    """The broker could not take the message (missing exchange, unroutable, refused, down)."""


@app.command()
def publish(
    event_type: Annotated[str, typer.Argument(help="event type, e.g. order.placed.v1")],
    data: Annotated[
        str, typer.Option("--data", "-d", help="JSON file with the event's data, or - for stdin")
    ],
    event_id: Annotated[
        str | None, typer.Option("--id", help="event id (default: a new UUID)")
    ] = None,
    correlation_id: Annotated[
        str | None, typer.Option(help="AMQP correlation id (default: the event's subject)")
    ] = None,
    source_service: Annotated[
        str | None,
        typer.Option(
            help="publishing service, its AMQP app_id (default: the event's producer); the "
            "envelope source is always the producer's"
        ),
    ] = None,
    amqp_url: AmqpUrl = DEFAULT_AMQP_URL,
) -> None:
    """Validate DATA against EVENT_TYPE's contract, wrap it in a CloudEvent and publish it.

    Exit code 2 when the type is unknown or the data is invalid (nothing is published), 1 when the
    broker does not take it (no exchange, no queue bound, refused).

    Example: [bold]warren publish order.placed.v1 --data order.json[/bold]
    or [bold]echo '{...}' | warren publish order.placed.v1 --data -[/bold]
    """
    err = Console(stderr=True)
    try:
        event_class = load_project().registry.resolve(event_type)
    except UnknownEventType as unknown:
        err.print(f"[red]{escape(str(unknown))}[/red]; [bold]warren events[/bold] lists them")
        raise typer.Exit(2) from None
    event = _validated(event_class, _read(data, err), err)
    message = prepare(
        event,
        service=source_service or event_class.producer,
        correlation_id=correlation_id,
        event_id=event_id,
    )
    try:
        asyncio.run(_publish(amqp_url, message))
    except Unpublishable as failure:
        err.print(f"[red]not published:[/red] {escape(str(failure))}")
        raise typer.Exit(1) from None
    Console().print(
        f"published {event_type} {message.message_id} to {message.exchange} (confirmed)"
    )


def _read(source: str, err: Console) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        err.print(f"[red]cannot read {escape(source)}:[/red] {escape(reason)}")
        raise typer.Exit(2) from None


def _validated(event_class: type[Event], text: str, err: Console) -> Event:
    try:
        return event_class.model_validate_json(text)
    except ValidationError as invalid:
        err.print(f"[red]invalid {event_class.type} data ({invalid.error_count()} errors):[/red]")
        for problem in invalid.errors(include_url=False):
            where = ".".join(str(part) for part in problem["loc"]) or "<root>"
            err.print(f"  {escape(where)}: {escape(problem['msg'])}")
        err.print("nothing was published")
        raise typer.Exit(2) from None


async def connected_broker(amqp_url: str, name: str = "warren-cli") -> Broker:
    """A connected ``Broker`` for the CLI, or :class:`Unpublishable` saying why not."""
    broker = Broker(amqp_url, name, publish_timeout=10.0)
    try:
        await broker.connect(timeout=10.0)
    except (AMQPError, OSError, TimeoutError) as error:
        raise Unpublishable(f"cannot connect to {_redacted(amqp_url)}: {error!r}") from error
    return broker


async def _publish(amqp_url: str, message: OutgoingMessage) -> None:
    broker = await connected_broker(amqp_url)
    try:
        await _require_exchange(broker, message.exchange, amqp_url)
        await broker.send(message)
    except UnroutableError as error:
        raise Unpublishable(
            f"unroutable: {error} (is a consuming service's queue declared?)"
        ) from error
    except PublishError as error:
        raise Unpublishable(str(error)) from error
    finally:
        await broker.close()


def _redacted(amqp_url: str) -> str:
    parts = urlsplit(amqp_url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 5672}/{vhost_of(amqp_url)}"


async def _require_exchange(broker: Broker, name: str, amqp_url: str) -> None:
    """A missing exchange closes the publishing channel; say so plainly instead."""
    probe = await broker.channel()
    try:
        await probe.declare_exchange(name, ExchangeType.TOPIC, durable=True, passive=True)
    except ChannelNotFoundEntity:
        raise Unpublishable(
            f"exchange {name!r} does not exist in vhost {vhost_of(amqp_url)!r} "
            "(start the services or run warren topology apply)"
        ) from None
    finally:
        if not probe.is_closed:
            await probe.close()
