"""Held messages: what ``warren dlq`` and ``warren unrouted`` share to list, show and replay them.

Owns the mechanics of a queue whose messages wait for an operator (a DLQ, a service's unrouted
queue): listing such queues with their depth (management API), reading messages with
``basic.get`` without acking them (closing the channel returns every one, in order), and replaying
them — each published again, readdressed by the caller's rule, with confirms, and acked from the
queue only after its confirm: a crash in between duplicates, never loses (consumers deduplicate by
message id). Where a message goes back to is the commands' business, not this module's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

import httpx
import typer
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel
from aiormq.exceptions import ChannelNotFoundEntity
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from warren.cli._publish import Unpublishable, connected_broker
from warren.messaging import Broker, PublishError
from warren.messaging.message import OutgoingMessage
from warren.messaging.url import management_of, vhost_of

T = TypeVar("T")
Readdress = Callable[[AbstractIncomingMessage, str], OutgoingMessage]
"""Where a held message of a queue goes when replayed: ``(message, queue) -> outgoing copy``."""

# A replayed message starts afresh: the record of its failure stays behind (the broker's x-death
# and quorum-queue delivery count included), so the consumer gives it all its attempts again.
FAILURE_HEADERS = frozenset(
    {"x-attempts", "x-death", "x-delivery-count", "x-failed-at", "x-queue", "x-replayed-at"}
)
FAILURE_PREFIXES = ("x-error-", "x-last-error-", "x-first-death-", "x-last-death-")


class Missing(Exception):
    """The queue does not exist in the vhost."""


@dataclass(frozen=True)
class HeldMessage:
    """What ``show`` reports about one held message."""

    message_id: str
    type: str
    routing_key: str
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
            "routing_key": self.routing_key,
            "headers": dict(self.headers),
            "body": body,
        }


@dataclass
class Outcome:
    """What a replay did: ids replayed, ids not found, and the error that stopped it (if any)."""

    replayed: list[str]
    missing: set[str]
    error: str | None = None


def fresh_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """``headers`` without a failure record, stamped with the replay's time and count."""
    count = headers.get("x-replay-count", 0)
    kept = {
        name: value
        for name, value in headers.items()
        if name not in FAILURE_HEADERS and not name.startswith(FAILURE_PREFIXES)
    }
    kept["x-replayed-at"] = datetime.now(UTC).isoformat()
    kept["x-replay-count"] = (count if isinstance(count, int) else 0) + 1
    return kept


def list_held(amqp_url: str, management_url: str, suffix: str, title: str, origin: str) -> None:
    """Print every queue of the vhost named ``*<suffix>`` with its depth and ``origin`` column."""
    base, auth = management_of(amqp_url, management_url)
    vhost = vhost_of(amqp_url)
    url = f"{base}/api/queues/{quote(vhost, safe='')}"
    try:
        response = httpx.get(url, auth=auth, params={"columns": "name,messages,type"}, timeout=10)
        response.raise_for_status()
    except httpx.HTTPStatusError as error:
        if error.response.status_code == 404:
            fail(f"no vhost {vhost!r} at {base}: is the vhost in AMQP_URL right?")
        fail(
            f"management API at {base}: {error.response.status_code} {error.response.reason_phrase}"
        )
    except httpx.HTTPError as error:
        fail(f"management API at {base} unreachable ({type(error).__name__}): is RabbitMQ running?")
    queues = sorted(
        (q for q in response.json() if q["name"].endswith(suffix)), key=lambda q: q["name"]
    )
    table = Table(title=f"{title} in vhost {vhost!r}")
    table.add_column("queue", no_wrap=True)
    table.add_column("messages", justify="right")
    table.add_column(origin, no_wrap=True)
    for queue in queues:
        depth = queue.get("messages") or 0
        table.add_row(
            queue["name"], f"[red]{depth}[/red]" if depth else "0", queue["name"][: -len(suffix)]
        )
    Console().print(table if queues else f"no {title} in vhost {vhost!r}")


def show_held(
    amqp_url: str,
    queue: str,
    limit: int,
    as_json: bool,
    headers: Sequence[str],
    *,
    routing_key: bool = False,
) -> None:
    """Print the first ``limit`` messages of ``queue`` with ``headers`` as columns (or JSON).

    ``routing_key`` adds the column for the key each message was published with.
    """
    try:
        depth, messages = asyncio.run(peek(amqp_url, queue, limit))
    except (Missing, Unpublishable) as error:
        fail(str(error))
    if as_json:
        for message in messages:
            typer.echo(json.dumps(message.as_dict(), default=str, sort_keys=True))
        return
    console = Console()
    console.print(f"[bold]{escape(queue)}[/bold]: {depth} messages, showing {len(messages)}")
    for number, message in enumerate(messages, 1):
        # One block per message, the id whole on its own line (to paste into `replay --id`),
        # each field on its own line: readable at 80 columns, nothing cut.
        console.print(f"\n[bold]{number}[/bold] {escape(message.message_id)}", highlight=False)
        fields = [("type", message.type)]
        if routing_key:
            fields.append(("routing key", message.routing_key))
        fields += [(name.removeprefix("x-"), message.headers.get(name, "")) for name in headers]
        for label, value in fields:
            if value not in ("", None):
                console.print(f"  {label:<16}{escape(str(value))}", highlight=False)


def replay_held(
    amqp_url: str,
    queue: str,
    ids: list[str] | None,
    replay_all: bool,
    readdress: Readdress,
) -> None:
    """Replay the messages ``ids`` (or all) of ``queue``, showing progress; exit 1 on a problem."""
    if bool(ids) == replay_all:
        raise typer.BadParameter("give --id ID (one or more) or --all, not both", param_hint="--id")
    selected = None if replay_all else set(ids or ())
    err = Console(stderr=True)
    with Progress(console=err, transient=True, disable=not replay_all) as progress:
        task = progress.add_task(f"replaying {queue}", total=None)

        def advance(total: int) -> None:
            progress.update(task, total=total, advance=1)

        outcome = asyncio.run(replay(amqp_url, queue, selected, advance, readdress))
    Console().print(f"replayed {len(outcome.replayed)} message(s) from {queue}")
    if outcome.missing:
        err.print(f"[yellow]not found in {queue}:[/yellow] {', '.join(sorted(outcome.missing))}")
    if outcome.error:
        fail(outcome.error)
    if outcome.missing:
        raise typer.Exit(1)


async def peek(amqp_url: str, queue: str, limit: int) -> tuple[int, list[HeldMessage]]:
    """The depth of ``queue`` and its first ``limit`` messages, all left in the queue."""

    async def read(
        broker: Broker, channel: AbstractRobustChannel, amqp: AbstractQueue
    ) -> tuple[int, list[HeldMessage]]:
        depth = amqp.declaration_result.message_count or 0
        seen: list[HeldMessage] = []
        while len(seen) < limit and (message := await amqp.get(no_ack=False, fail=False)):
            seen.append(
                HeldMessage(
                    message.message_id or "",
                    message.type or "",
                    message.routing_key or "",
                    {k: v for k, v in (message.headers or {}).items() if k != "x-delivery-count"},
                    message.body,
                )
            )
        return depth, seen  # never acked: closing the channel returns them, in order

    return await with_queue(amqp_url, queue, read)


async def replay(
    amqp_url: str,
    queue: str,
    selected: set[str] | None,
    advance: Callable[[int], None],
    readdress: Readdress,
) -> Outcome:
    """Publish ``readdress``ed copies of the selected messages (None: all), acking each after."""
    outcome = Outcome([], set(selected or ()))

    async def send_back(
        broker: Broker, channel: AbstractRobustChannel, amqp: AbstractQueue
    ) -> Outcome:
        # Only what is there now: a replayed message that comes back lands behind these.
        total = amqp.declaration_result.message_count or 0
        for _ in range(total):
            message = await amqp.get(no_ack=False, fail=False)
            if message is None:
                break
            if selected is not None and message.message_id not in selected:
                continue  # left unacked: back in the queue when the channel closes
            try:
                await broker.send(readdress(message, queue), bounded=False)  # kept as it was
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
        return await with_queue(amqp_url, queue, send_back)
    except (Missing, Unpublishable) as error:
        outcome.error = str(error)
        return outcome


async def with_queue(
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


def fail(reason: str) -> NoReturn:
    """Print ``reason`` in red on standard error and exit 1."""
    Console(stderr=True).print(f"[red]{escape(reason)}[/red]")
    raise typer.Exit(1)
