"""CLI test fixtures: the ``warren`` app run in a worker thread, a broker, consumers, queue depths.

Each command runs its own event loop (``asyncio.run``), so tests call it through
``asyncio.to_thread`` while their own loop keeps the consumers going.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aio_pika
import pytest
from click.testing import Result
from typer.testing import CliRunner

from contracts.event import Event
from warren.cli import app
from warren.messaging import Broker, Consumer, Handler, RetryPolicy, WorkQueue

SERVICE = "probe"

Cli = Callable[..., Awaitable[Result]]


@pytest.fixture
def cli() -> Cli:
    """``await cli("dlq", "show", q, stdin=None)``: the command's ``Result`` (wide terminal)."""
    runner = CliRunner()

    async def invoke(*args: str, stdin: str | None = None) -> Result:
        return await asyncio.to_thread(
            runner.invoke, app, list(args), input=stdin, env={"COLUMNS": "250"}
        )

    return invoke


@pytest.fixture
async def broker(vhost_url: str) -> AsyncIterator[Broker]:
    """A connected ``Broker`` for service ``probe`` on this test's vhost."""
    connected = Broker(vhost_url, SERVICE)
    await connected.connect()
    yield connected
    await connected.close()


@pytest.fixture
async def consumer_for(broker: Broker) -> AsyncIterator[Callable[..., Awaitable[Consumer]]]:
    """``await consumer_for(handlers)``: ``probe.work`` declared and consumed, stopped after."""
    started: list[Consumer] = []

    async def make(handlers: Mapping[type[Event], Handler], *, purpose: str = "work") -> Consumer:
        queue = WorkQueue(SERVICE, purpose, handlers, prefetch=10, retry=RetryPolicy((0.1,)))
        await broker.declare([queue])
        consumer = Consumer(broker, queue, drain_timeout=5.0)
        await consumer.start()
        started.append(consumer)
        return consumer

    yield make
    for consumer in started:
        await consumer.stop()


@pytest.fixture
async def raw_channel(vhost_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A plain aio-pika channel on the same vhost, as an operator's own client would use."""
    connection = await aio_pika.connect(vhost_url)
    channel = await connection.channel()
    yield channel
    await connection.close()


Depth = Callable[[str], Awaitable[int]]


@pytest.fixture
def depth(raw_channel: aio_pika.abc.AbstractChannel) -> Depth:
    """``await depth(queue)``: the messages ready in ``queue`` right now (passive declare)."""

    async def count(queue: str) -> int:
        declared: Any = await raw_channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)

    return count
