"""``warren dlq``: list, inspect, replay and purge dead-letter queues (``<queue>.dlq``).

Owns the operator's DLQ workflow. ``show`` reads messages with ``basic.get`` and never acks them,
so closing the channel returns every one to the DLQ, in order. ``replay`` publishes each selected
message back to its origin work queue (through ``<service>.retry``, routing key = the queue) with
confirms and acks it from the DLQ only after the confirm: a crash in between duplicates, never
loses (consumers deduplicate by message id). Listing uses the management API; the rest is AMQP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn, TypeVar
from urllib.parse import quote

import httpx
import typer
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel
from aiormq.exceptions import ChannelNotFoundEntity
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from warren.cli._app import app
from warren.cli._publish import (
    DEFAULT_AMQP_URL,
    AmqpUrl,
    ManagementUrl,
    Unpublishable,
    connected_broker,
    management_of,
    vhost_of,
)
from warren.messaging import (
    ORIGINAL_USER,
    Broker,
    OutgoingMessage,
    PublishError,
    retry_exchange,
    user_name,
    user_prefix,
)

dlq = typer.Typer(
    help="Dead-letter queues: list them, show their messages, replay or purge them.",
    no_args_is_help=True,
)
app.add_typer(dlq, name="dlq")

T = TypeVar("T")
SUFFIX = ".dlq"
SHOWN_HEADERS = (
    "x-error-type",
    "x-error-message",
    "x-attempts",
    "x-failed-at",
    "x-original-routing-key",
)
# A replayed message starts afresh: the record of its failure stays behind (the broker's x-death
# and quorum-queue delivery count included), so the consumer gives it all its attempts again.
FAILURE_HEADERS = frozenset(
    {"x-attempts", "x-death", "x-delivery-count", "x-failed-at", "x-queue", "x-replayed-at"}
)
FAILURE_PREFIXES = ("x-error-", "x-last-error-", "x-first-death-", "x-last-death-")


class Missing(Exception):
    """The queue does not exist in the vhost."""


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
    base, auth = management_of(amqp_url, management_url)
    vhost = vhost_of(amqp_url)
    url = f"{base}/api/queues/{quote(vhost, safe='')}"
    try:
        response = httpx.get(url, auth=auth, params={"columns": "name,messages,type"}, timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as error:
        _fail(f"management API at {base}: {error}")
    queues = sorted(
        (q for q in response.json() if q["name"].endswith(SUFFIX)), key=lambda q: q["name"]
    )
    table = Table(title=f"dead-letter queues in vhost {vhost!r}")
    table.add_column("queue", no_wrap=True)
    table.add_column("messages", justify="right")
    table.add_column("origin queue", no_wrap=True)
    for queue in queues:
        depth = queue.get("messages") or 0
        table.add_row(
            queue["name"], f"[red]{depth}[/red]" if depth else "0", queue["name"][: -len(SUFFIX)]
        )
    Console().print(table if queues else f"no dead-letter queues in vhost {vhost!r}")


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
    try:
        depth, messages = asyncio.run(_peek(amqp_url, queue, limit))
    except (Missing, Unpublishable) as error:
        _fail(str(error))
    if as_json:
        for message in messages:
            typer.echo(json.dumps(message.as_dict(), default=str, sort_keys=True))
        return
    table = Table(title=f"{queue}: {depth} messages, showing {len(messages)}")
    for column in ("message id", "type", *SHOWN_HEADERS):
        wraps = column == "x-error-message"  # the one long, free-text column
        table.add_column(column.removeprefix("x-"), overflow="fold", no_wrap=not wraps)
    for message in messages:
        table.add_row(
            message.message_id,
            message.type,
            *(escape(str(message.headers.get(name, ""))) for name in SHOWN_HEADERS),
        )
    Console().print(table)


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
    if bool(ids) == replay_all:
        raise typer.BadParameter("give --id ID (one or more) or --all, not both", param_hint="--id")
    selected = None if replay_all else set(ids or ())
    err = Console(stderr=True)
    with Progress(console=err, transient=True, disable=not replay_all) as progress:
        task = progress.add_task(f"replaying {queue}", total=None)

        def advance(total: int) -> None:
            progress.update(task, total=total, advance=1)

        outcome = asyncio.run(_replay(amqp_url, queue, selected, advance))
    Console().print(f"replayed {len(outcome.replayed)} message(s) from {queue}")
    if outcome.missing:
        err.print(f"[yellow]not found in {queue}:[/yellow] {', '.join(sorted(outcome.missing))}")
    if outcome.error:
        _fail(outcome.error)
    if outcome.missing:
        raise typer.Exit(1)


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
        depth = asyncio.run(_with_queue(amqp_url, queue, _depth))
    except (Missing, Unpublishable) as error:
        _fail(str(error))
    if not yes:
        typer.confirm(f"Delete {depth} message(s) from {queue} for good?", abort=True)
    try:
        purged = asyncio.run(_with_queue(amqp_url, queue, _purge))
    except (Missing, Unpublishable) as error:
        _fail(str(error))
    Console().print(f"purged {purged} message(s) from {queue}")


@dataclass(frozen=True)
class DeadMessage:
    """What ``show`` reports about one dead-lettered message."""

    message_id: str
    type: str
    headers: Mapping[str, Any]
    body: bytes

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view: ids, headers and the body (parsed when it is JSON)."""
        try:
            body: Any = json.loads(self.body)
        except ValueError:
            body = self.body.decode(errors="replace")
        return {
            "message_id": self.message_id,
            "type": self.type,
            "headers": dict(self.headers),
            "body": body,
        }


@dataclass
class Outcome:
    """What a replay did: ids replayed, ids not found, and the error that stopped it (if any)."""

    replayed: list[str]
    missing: set[str]
    error: str | None = None


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
    count = headers.get("x-replay-count", 0)
    kept = {
        name: value
        for name, value in headers.items()
        if name not in FAILURE_HEADERS and not name.startswith(FAILURE_PREFIXES)
    }
    service = origin.split(".", 1)[0]  # a work queue is <service>.<purpose>
    copier = user_name(service, user_prefix(message.user_id or "", service))
    if message.user_id not in (copier, "guest"):  # guest: local development, nothing verified
        # Not a copy the consumer dead-lettered (the broker moved it: delivery limit), so its
        # x-original-* headers are the publisher's word; the broker-validated user_id is not.
        kept = {name: value for name, value in kept.items() if not name.startswith("x-original-")}
        kept[ORIGINAL_USER] = message.user_id or ""
    kept["x-replayed-at"] = datetime.now(UTC).isoformat()
    kept["x-replay-count"] = (count if isinstance(count, int) else 0) + 1
    # every work queue is bound to its service's retry exchange with its own name as the key
    return OutgoingMessage.readdressed(message, retry_exchange(service), origin, kept)


async def _peek(amqp_url: str, queue: str, limit: int) -> tuple[int, list[DeadMessage]]:
    async def read(
        broker: Broker, channel: AbstractRobustChannel, amqp: AbstractQueue
    ) -> tuple[int, list[DeadMessage]]:
        depth = amqp.declaration_result.message_count or 0
        seen: list[DeadMessage] = []
        while len(seen) < limit and (message := await amqp.get(no_ack=False, fail=False)):
            seen.append(
                DeadMessage(
                    message.message_id or "",
                    message.type or "",
                    {k: v for k, v in (message.headers or {}).items() if k != "x-delivery-count"},
                    message.body,
                )
            )
        return depth, seen  # never acked: closing the channel returns them, in order

    return await _with_queue(amqp_url, queue, read)


async def _replay(
    amqp_url: str, queue: str, selected: set[str] | None, advance: Callable[[int], None]
) -> Outcome:
    outcome = Outcome([], set(selected or ()))

    async def send_back(
        broker: Broker, channel: AbstractRobustChannel, amqp: AbstractQueue
    ) -> Outcome:
        # Only what is there now: a replayed message that fails again comes back behind these.
        total = amqp.declaration_result.message_count or 0
        for _ in range(total):
            message = await amqp.get(no_ack=False, fail=False)
            if message is None:
                break
            if selected is not None and message.message_id not in selected:
                continue  # left unacked: back in the DLQ when the channel closes
            try:
                await broker.send(replayed(message, queue), bounded=False)
            except PublishError as error:
                outcome.error = f"{message.message_id} not replayed, still in {queue}: {error}"
                return outcome
            await message.ack()  # only now that the broker confirmed the copy
            outcome.replayed.append(message.message_id or "")
            outcome.missing.discard(message.message_id or "")
            advance(total)
            if selected is not None and not outcome.missing:
                break
        return outcome

    try:
        return await _with_queue(amqp_url, queue, send_back)
    except (Missing, Unpublishable) as error:
        outcome.error = str(error)
        return outcome


async def _depth(broker: Broker, channel: AbstractRobustChannel, amqp: AbstractQueue) -> int:
    return amqp.declaration_result.message_count or 0


async def _purge(broker: Broker, channel: AbstractRobustChannel, amqp: AbstractQueue) -> int:
    result = await amqp.purge()
    return int(result.message_count or 0)


async def _with_queue(
    amqp_url: str,
    queue: str,
    work: Callable[[Broker, AbstractRobustChannel, AbstractQueue], Awaitable[T]],
) -> T:
    """Run ``work`` on ``queue`` (passively declared) over a fresh channel, then close it all."""
    broker = await connected_broker(amqp_url)
    try:
        channel = await broker.channel()
        try:
            amqp = await channel.declare_queue(queue, passive=True)
        except ChannelNotFoundEntity:
            raise Missing(f"queue {queue!r} not found in vhost {vhost_of(amqp_url)!r}") from None
        try:
            return await work(broker, channel, amqp)
        finally:
            await channel.close()
    finally:
        await broker.close()


def _fail(reason: str) -> NoReturn:
    Console(stderr=True).print(f"[red]{escape(reason)}[/red]")
    raise typer.Exit(1)
