"""Least privilege on the real broker: each service user can do its own work and nothing else."""

from __future__ import annotations

import functools
import uuid

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren.messaging import Broker, PublishError
from warren.testing import fresh_vhost, wait_until


async def test_a_service_user_does_its_own_work(imported) -> None:
    broker = Broker(imported.urls["orders"], "orders")
    await broker.connect()
    try:
        await broker.publish(example(REGISTRY.resolve("order.placed.v1"), uuid.uuid4()))
    finally:
        await broker.close()
    connection = await aio_pika.connect(imported.urls["inventory"])
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue("inventory.reservations", passive=True)
        message = await wait_until(lambda: queue.get(fail=False), what="order.placed in inventory")
        assert message.type == "order.placed.v1"
        await message.ack()


async def test_a_service_cannot_consume_another_services_queue(imported) -> None:
    connection = await aio_pika.connect(imported.urls["orders"])
    async with connection:
        channel = await connection.channel()
        with pytest.raises(ChannelAccessRefused):
            await _take_one(channel, "inventory.reservations")


async def test_a_service_cannot_publish_to_another_services_exchange(imported) -> None:
    broker = Broker(imported.urls["orders"], "orders")
    await broker.connect()
    try:
        with pytest.raises((PublishError, ChannelAccessRefused)):
            # payment.captured belongs on payments.events, which orders may not write
            await broker.publish(example(REGISTRY.resolve("payment.captured.v1"), uuid.uuid4()))
    finally:
        await broker.close()


async def test_two_vhosts_never_see_each_others_messages(servers) -> None:
    async with (
        fresh_vhost(servers.amqp_url, servers.management_url) as first,
        fresh_vhost(servers.amqp_url, servers.management_url) as second,
    ):
        seen: dict[str, list[str]] = {}
        connections = []
        for name, url in (("first", first), ("second", second)):
            connection = await aio_pika.connect(url)
            connections.append(connection)
            channel = await connection.channel()
            exchange = await channel.declare_exchange("orders.events", "topic", durable=True)
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(exchange, "#")
            seen[name] = []
            await queue.consume(functools.partial(_keep, seen[name]), no_ack=True)
        broker = Broker(first, "orders")
        await broker.connect()
        ids = [
            await broker.publish(example(REGISTRY.resolve("order.placed.v1"), uuid.uuid4()))
            for _ in range(5)
        ]
        await broker.close()
        await wait_until(lambda: _now(len(seen["first"]) == 5), what="first vhost got all 5")
        # a sentinel sent in the second vhost arrives after anything misrouted would have
        sentinel = Broker(second, "orders")
        await sentinel.connect()
        marker = await sentinel.publish(example(REGISTRY.resolve("order.placed.v1"), uuid.uuid4()))
        await sentinel.close()
        await wait_until(lambda: _now(marker in seen["second"]), what="sentinel in second vhost")
        for connection in connections:
            await connection.close()
    assert seen["first"] == ids
    assert seen["second"] == [marker]


async def _take_one(channel: aio_pika.abc.AbstractChannel, name: str) -> object:
    queue = await channel.declare_queue(name, passive=True)
    return await queue.get(fail=False)


async def _keep(into: list[str], message: aio_pika.abc.AbstractIncomingMessage) -> None:
    into.append(message.message_id or "")


async def _now(value: bool) -> bool:
    return value
