"""``warren unrouted``: list, inspect and replay the domain events no queue was bound for.

Owns the operator's view of each service's ``<service>.unrouted`` queue — where the alternate
exchange of ``<service>.events`` keeps an event published before any consumer wanted it — and
where a replayed one goes: back to ``<service>.events`` with its original routing key, so the
queues bound since then receive it. One still unwanted is kept again by the same alternate
exchange (its ``x-replay-count`` says how often). The mechanics are ``_held``'s, as for DLQs.
"""

from __future__ import annotations

from typing import Annotated

import typer
from aio_pika.abc import AbstractIncomingMessage

from warren.cli._app import app
from warren.cli._held import fresh_headers, list_held, replay_held, show_held
from warren.cli._publish import DEFAULT_AMQP_URL, AmqpUrl, ManagementUrl
from warren.messaging.message import OutgoingMessage
from warren.messaging.topology import events_exchange, unrouted_exchange

unrouted = typer.Typer(
    help="Unrouted events: domain events no queue wanted yet — list, show and replay them.",
    no_args_is_help=True,
)
app.add_typer(unrouted, name="unrouted")

SUFFIX = unrouted_exchange("")  # ".unrouted"
SHOWN_HEADERS = ("x-replay-count", "x-replayed-at")


def _unrouted_queue(name: str) -> str:
    service = name.removesuffix(SUFFIX)
    if not service or service == name or "." in service:
        raise typer.BadParameter(f"{name!r} is not an unrouted queue (<service>{SUFFIX})")
    return name


Queue = Annotated[
    str,
    typer.Argument(help="the unrouted queue, e.g. inventory.unrouted", callback=_unrouted_queue),
]


@unrouted.command("list")
def list_queues(amqp_url: AmqpUrl = DEFAULT_AMQP_URL, management_url: ManagementUrl = "") -> None:
    """List every service's unrouted queue with how many events it keeps.

    Example: [bold]warren unrouted list --amqp-url amqp://guest:guest@localhost:5672/warren[/bold]
    """
    list_held(amqp_url, management_url, SUFFIX, "unrouted queues", "service")


@unrouted.command()
def show(
    queue: Queue,
    limit: Annotated[int, typer.Option(min=1, help="show at most this many messages")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON object per message: headers, body")
    ] = False,
    amqp_url: AmqpUrl = DEFAULT_AMQP_URL,
) -> None:
    """Show the first events kept in QUEUE with their routing keys; the queue is left unchanged.

    Example: [bold]warren unrouted show inventory.unrouted --limit 5[/bold]
    """
    show_held(amqp_url, queue, limit, as_json, SHOWN_HEADERS, routing_key=True)


@unrouted.command()
def replay(
    queue: Queue,
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="message id to replay (repeatable)")
    ] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="replay every message")] = False,
    amqp_url: AmqpUrl = DEFAULT_AMQP_URL,
) -> None:
    """Publish events of QUEUE again to their service's events exchange, once a consumer exists.

    Each is published (confirmed) to <service>.events with its original routing key, then removed
    from QUEUE. An event still no queue wants comes back to QUEUE, behind the others.

    Example: [bold]warren unrouted replay inventory.unrouted --all[/bold]
    """
    replay_held(amqp_url, queue, ids, replay_all, republished)


def republished(message: AbstractIncomingMessage, queue: str) -> OutgoingMessage:
    """``message`` addressed to its service's events exchange again, under its routing key."""
    service = queue.removesuffix(SUFFIX)
    routing_key = message.routing_key or message.type or ""
    headers = fresh_headers(dict(message.headers or {}))
    return OutgoingMessage.readdressed(message, events_exchange(service), routing_key, headers)
