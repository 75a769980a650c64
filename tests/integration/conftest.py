"""Integration fixtures: a connected broker on a fresh vhost, consumers that clean up, a raw
channel and a drain, shared by the messaging, CLI and telemetry tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aio_pika
import pytest

from warren.contracts.event import Event
from warren.messaging import Broker, Consumer, Handler, RetryPolicy, WorkQueue

SERVICE = "probe"


@pytest.fixture
async def broker(vhost_url: str) -> AsyncIterator[Broker]:
    """A connected ``Broker`` for service ``probe`` on this test's vhost."""
    connected = Broker(vhost_url, SERVICE)
    await connected.connect()
    yield connected
    await connected.close()


MakeConsumer = Callable[..., Any]


@pytest.fixture
async def consumer_for(broker: Broker) -> AsyncIterator[MakeConsumer]:
    """``await consumer_for(handlers, prefetch=.., retry=..)``: declared, started, stopped after."""
    started: list[Consumer] = []

    async def make(
        handlers: Mapping[type[Event], Handler],
        *,
        purpose: str = "work",
        prefetch: int = 10,
        retry: RetryPolicy | None = None,
        drain_timeout: float = 5.0,
        start: bool = True,
    ) -> Consumer:
        queue = WorkQueue(
            SERVICE, purpose, handlers, prefetch=prefetch, retry=retry or RetryPolicy((0.1, 0.2))
        )
        await broker.declare([queue])
        consumer = Consumer(broker, queue, drain_timeout=drain_timeout)
        if start:
            await consumer.start()
        started.append(consumer)
        return consumer

    yield make
    for consumer in started:
        await consumer.stop()


@pytest.fixture
async def raw_channel(vhost_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A plain aio-pika channel on the same vhost, as a foreign client or an operator would use."""
    connection = await aio_pika.connect(vhost_url)
    channel = await connection.channel()
    yield channel
    await connection.close()


Drain = Callable[[str], Any]


@pytest.fixture
def drain(raw_channel: aio_pika.abc.AbstractChannel) -> Drain:
    """``await drain(queue)``: every message now in ``queue``, fetched with basic.get, removed."""

    async def take(queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
        amqp_queue = await raw_channel.declare_queue(queue, passive=True)
        messages = []
        while (message := await amqp_queue.get(fail=False, no_ack=True)) is not None:
            messages.append(message)
        return messages

    return take
