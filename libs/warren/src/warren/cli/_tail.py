"""``warren tail``: watch the project's events go by, as they are published.

Owns the operator's live view of the wire: a temporary exclusive queue bound with ``#`` to every
``<service>.events`` exchange of the project, one line per event (time, type, id, correlation id,
which service published it). It takes nothing from the services' queues, acks nothing of theirs,
and its queue disappears with it. Bounded by ``--count`` and ``--seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Annotated

import aio_pika
import typer
from aio_pika.abc import AbstractIncomingMessage
from rich.console import Console
from rich.markup import escape

from warren.cli._app import app
from warren.cli._project import load_project
from warren.cli._publish import DEFAULT_AMQP_URL, AmqpUrl

console = Console()


def line(message: AbstractIncomingMessage) -> str:
    """One event as one line: ``12:00:01 order.placed.v1  id=…  corr=…  from orders``."""
    at = message.timestamp or datetime.now(UTC)
    return (
        f"{at:%H:%M:%S} {message.type or '?':<28} id={message.message_id or '?'} "
        f"corr={message.correlation_id or '-'} from {message.app_id or message.exchange or '?'}"
    )


@app.command()
def tail(
    amqp_url: AmqpUrl = DEFAULT_AMQP_URL,
    count: Annotated[int, typer.Option(min=1, help="stop after this many events")] = 1000,
    seconds: Annotated[float, typer.Option(min=0.1, help="stop after this long")] = 3600.0,
    event_type: Annotated[
        str, typer.Option("--type", help="only this routing key pattern, e.g. 'order.#'")
    ] = "#",
) -> None:
    """Print every event the project's services publish, as they go by (Ctrl-C stops).

    Example: [bold]warren tail --type 'order.#'[/bold]
    """
    exchanges = [f"{service}.events" for service in load_project().services]
    seen = asyncio.run(_tail(amqp_url, exchanges, event_type, count, seconds))
    console.print(f"[dim]{seen} events[/dim]")


async def _tail(url: str, exchanges: list[str], pattern: str, count: int, seconds: float) -> int:
    seen = 0
    done = asyncio.Event()

    async def show(message: AbstractIncomingMessage) -> None:
        nonlocal seen
        seen += 1
        console.print(escape(line(message)), highlight=False)
        if seen >= count:
            done.set()

    connection = await aio_pika.connect(url)
    async with connection:
        watched = [name for name in exchanges if await _exists(connection, name)]
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for name in watched:
            await queue.bind(name, pattern)
        await queue.consume(show, no_ack=True)
        console.print(f"[dim]watching {', '.join(watched)} ({pattern}); Ctrl-C stops[/dim]")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=seconds)
    return seen


async def _exists(connection: aio_pika.abc.AbstractConnection, exchange: str) -> bool:
    # A passive declare of a missing exchange closes its channel: probe on a channel of its own.
    probe = await connection.channel()
    try:
        await probe.declare_exchange(exchange, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        console.print(f"[yellow]{exchange} does not exist yet: not watched[/yellow]")
        return False
    await probe.close()
    return True
