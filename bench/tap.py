"""A stopwatch on the wire: when each event about each subject was seen, and waiters for it.

Like ``warren.testing.EventTap`` (its own exclusive queue bound with ``#`` to the exchanges it is
given, which must exist), but built for load: it records only (receive time, type, subject,
CloudEvents time), decodes with orjson, and wakes only the one waiter an event concerns.
``EventTap`` keeps every envelope and wakes every waiter on every event, which is right for tests
and costly at 150 orders/s on the machine being measured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import aio_pika
import orjson
from aio_pika.abc import AbstractIncomingMessage


@dataclass(frozen=True, slots=True)
class Seen:
    """One event: wall-clock receive time, its type, and its CloudEvents ``time`` (epoch s)."""

    received: float
    type: str
    time: float


class Stopwatch:
    """``async with Stopwatch(url, exchanges) as tap: await tap.first(subject, types)``."""

    def __init__(self, amqp_url: str, exchanges: Sequence[str]) -> None:
        self.amqp_url = amqp_url
        self.exchanges = tuple(exchanges)
        self.seen: dict[str, list[Seen]] = {}
        self.count = 0
        self._waiters: dict[tuple[str, str], asyncio.Future[Seen]] = {}
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def __aenter__(self) -> Stopwatch:
        self._connection = await aio_pika.connect(self.amqp_url)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for name in self.exchanges:
            # Bound by name, not declared: the exchanges are their owners' (declared with
            # arguments such as an alternate exchange, which a bare re-declaration contradicts).
            await queue.bind(name, "#")
        await queue.consume(self._keep, no_ack=True)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _keep(self, message: AbstractIncomingMessage) -> None:
        received = time.time()
        envelope = orjson.loads(message.body)
        subject, kind = envelope.get("subject") or "", envelope["type"]
        seen = Seen(received, kind, datetime.fromisoformat(envelope["time"]).timestamp())
        self.seen.setdefault(subject, []).append(seen)
        self.count += 1
        waiter = self._waiters.pop((subject, kind), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(seen)

    def expect(self, subject: str, kind: str) -> asyncio.Future[Seen]:
        """A future resolved when ``kind`` about ``subject`` is seen (call before causing it)."""
        for seen in self.seen.get(subject, ()):
            if seen.type == kind:
                done: asyncio.Future[Seen] = asyncio.get_running_loop().create_future()
                done.set_result(seen)
                return done
        future = self._waiters[(subject, kind)] = asyncio.get_running_loop().create_future()
        return future

    def about(self, subject: str) -> dict[str, Seen]:
        """The first event of each type seen about ``subject``."""
        first: dict[str, Seen] = {}
        for seen in self.seen.get(subject, ()):
            first.setdefault(seen.type, seen)
        return first
