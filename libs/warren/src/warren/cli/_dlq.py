"""``warren dlq``: list, inspect, replay and purge dead-letter queues (``<queue>.dlq``).

Owns the operator's DLQ workflow and where a replayed dead letter goes: back to its origin work
queue (through ``<service>.retry``, routing key = the queue), its failure record stripped so it
gets all its attempts again. Reading without acking and replaying with confirms (ack only after
the confirm: a crash duplicates, never loses) are ``_held``'s, shared with ``warren unrouted``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel
from rich.console import Console

from warren.cli._app import app
from warren.cli._held import (
    Missing,
    fail,
    fresh_headers,
    list_held,
    replay_held,
    show_held,
    with_queue,
)
from warren.cli._publish import DEFAULT_AMQP_URL, AmqpUrl, ManagementUrl, Unpublishable
from warren.messaging import Broker
from warren.messaging.definitions import user_name, user_prefix
from warren.messaging.edge import ORIGINAL_USER
from warren.messaging.message import OutgoingMessage
from warren.messaging.topology import retry_exchange

dlq = typer.Typer(
    help="Dead-letter queues: list them, show their messages, replay or purge them.",
    no_args_is_help=True,
)
app.add_typer(dlq, name="dlq")

SUFFIX = ".dlq"
SHOWN_HEADERS = (
    "x-error-type",
    "x-error-message",
    "x-attempts",
    "x-failed-at",
    "x-original-routing-key",
)


def _dead_letter_queue(name: str) -> str:
    if not name.endswith(SUFFIX) or len(name) == len(SUFFIX):
        raise typer.BadParameter(f"{name!r} is not a dead-letter queue (<queue>{SUFFIX})")
    return name


Queue = Annotated[
    str,
    typer.Argument(help="the DLQ, e.g. inventory.reservations.dlq", callback=_dead_letter_queue),
]


@dlq.command("list")
def list_queues(amqp_url: AmqpUrl = DEFAULT_AMQP_URL, management_url: ManagementUrl = "") -> None:
    """List every dead-letter queue of the vhost with its depth (management API statistics).

    Example: [bold]warren dlq list --amqp-url amqp://guest:guest@localhost:5672/warren[/bold]
    """
    list_held(amqp_url, management_url, SUFFIX, "dead-letter queues", "origin queue")


@dlq.command()
def show(
    queue: Queue,
    limit: Annotated[int, typer.Option(min=1, help="show at most this many messages")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON object per message: headers, body")
    ] = False,
    amqp_url: AmqpUrl = DEFAULT_AMQP_URL,
) -> None:
    """Show the first messages of QUEUE with their error headers; the DLQ is left unchanged.

    Example: [bold]warren dlq show inventory.reservations.dlq --limit 5[/bold]
    """
    show_held(amqp_url, queue, limit, as_json, SHOWN_HEADERS)


@dlq.command()
def replay(
    queue: Queue,
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="message id to replay (repeatable)")
    ] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="replay every message")] = False,
    amqp_url: AmqpUrl = DEFAULT_AMQP_URL,
) -> None:
    """Send messages of QUEUE back to their origin work queue, with fresh attempts.

    Each message is published (confirmed) to <service>.retry with its origin queue as routing key,
    then removed from the DLQ. Messages not selected stay where they are.

    Example: [bold]warren dlq replay orders.saga.dlq --id 3f2c…[/bold]
    or [bold]warren dlq replay orders.saga.dlq --all[/bold]
    """
    replay_held(amqp_url, queue, ids, replay_all, replayed)


@dlq.command()
def purge(
    queue: Queue,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    amqp_url: AmqpUrl = DEFAULT_AMQP_URL,
) -> None:
    """Delete every message of QUEUE, for good (asks first unless --yes).

    Example: [bold]warren dlq purge payments.charges.dlq --yes[/bold]
    """
    try:
        depth = asyncio.run(with_queue(amqp_url, queue, _depth))
    except (Missing, Unpublishable) as error:
        fail(str(error))
    if not yes:
        typer.confirm(f"Delete {depth} message(s) from {queue} for good?", abort=True)
    try:
        purged = asyncio.run(with_queue(amqp_url, queue, _purge))
    except (Missing, Unpublishable) as error:
        fail(str(error))
    Console().print(f"purged {purged} message(s) from {queue}")


def origin_queue(dead_letter_queue: str) -> str:
    """The work queue a dead message came from: the DLQ's name minus ``.dlq``.

    Never a header: ``<queue>.dlq`` is bound to ``<queue>`` alone, so its name is the one origin
    its messages can have, while a header (``x-queue``) could have been set by whoever published
    the message, to steer the replay into another service's queue.
    """
    return dead_letter_queue[: -len(SUFFIX)]


def replayed(message: AbstractIncomingMessage, dead_letter_queue: str) -> OutgoingMessage:
    """``message`` addressed back to its origin work queue, its failure record stripped."""
    headers = dict(message.headers or {})
    origin = origin_queue(dead_letter_queue)
    kept = fresh_headers(headers)
    service = origin.split(".", 1)[0]  # a work queue is <service>.<purpose>
    copier = user_name(service, user_prefix(message.user_id or "", service))
    if message.user_id not in (copier, "guest"):  # guest: local development, nothing verified
        # Not a copy the consumer dead-lettered (the broker moved it: delivery limit), so its
        # x-original-* headers are the publisher's word; the broker-validated user_id is not.
        kept = {name: value for name, value in kept.items() if not name.startswith("x-original-")}
        kept[ORIGINAL_USER] = message.user_id or ""
    # every work queue is bound to its service's retry exchange with its own name as the key
    return OutgoingMessage.readdressed(message, retry_exchange(service), origin, kept)


async def _depth(broker: Broker, channel: AbstractRobustChannel, amqp: AbstractQueue) -> int:
    return amqp.declaration_result.message_count or 0


async def _purge(broker: Broker, channel: AbstractRobustChannel, amqp: AbstractQueue) -> int:
    result = await amqp.purge()
    return int(result.message_count or 0)
