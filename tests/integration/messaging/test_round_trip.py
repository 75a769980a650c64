"""Publish -> consume of every event type on the real broker: envelope and properties intact."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from tests.harness import close_connections
from warren.contracts.envelope import CONTENT_TYPE
from warren.contracts.event import Event
from warren.messaging import Broker, Delivery, UnroutableError
from warren.testing import wait_until


async def test_every_event_type_round_trips(broker: Broker, consumer_for, drain) -> None:
    received: dict[str, tuple[Event, Delivery]] = {}

    async def keep(event: Event, delivery: Delivery) -> None:
        received[event.type] = (event, delivery)

    await consumer_for(dict.fromkeys(REGISTRY, keep))
    sent = {}
    for event_class in REGISTRY:
        event = example(event_class, order_id=uuid.uuid4())
        sent[event.type] = (event, await broker.publish(event))

    await wait_until(lambda: _ready(len(received) == len(sent)), what="all types consumed")
    for event_type, (event, message_id) in sent.items():
        got, delivery = received[event_type]
        assert got == event
        assert delivery.message_id == message_id
        assert delivery.event_type == event_type
        assert delivery.source == f"/warren/{type(event).producer}"  # the owner's
        assert delivery.correlation_id == event.subject
        assert delivery.attempt == 1


async def test_amqp_properties_follow_the_design(broker: Broker, raw_channel) -> None:
    queue = await raw_channel.declare_queue(exclusive=True)
    exchange = await raw_channel.declare_exchange("orders.events", "topic", durable=True)
    await queue.bind(exchange, "order.placed.v1")
    event = example(REGISTRY.resolve("order.placed.v1"), order_id=uuid.uuid4())
    message_id = await broker.publish(event)

    message = await wait_until(lambda: queue.get(fail=False, no_ack=True), what="message")
    assert message.message_id == message_id
    assert message.type == "order.placed.v1"
    assert message.app_id == "probe"
    assert message.correlation_id == event.subject
    assert message.content_type == CONTENT_TYPE
    assert message.delivery_mode == 2  # persistent
    assert message.timestamp is not None
    body = orjson.loads(message.body)
    assert body["specversion"] == "1.0"
    assert body["id"] == message_id
    assert body["type"] == "order.placed.v1"
    assert body["source"] == "/warren/orders"  # the event's owner, whoever sends it
    assert body["subject"] == event.subject
    assert body["datacontenttype"] == "application/json"
    assert body["data"] == event.model_dump(mode="json")


async def test_unroutable_publish_raises(broker: Broker) -> None:
    await broker.declare()  # exchanges exist, no queue is bound
    await _declare_exchange(broker, "payments.events")
    with pytest.raises(UnroutableError):
        await broker.publish(example(REGISTRY.resolve("payment.captured.v1")))


async def test_confirmed_publish_survives_a_connection_drop(
    broker: Broker, consumer_for, servers, vhost_url: str
) -> None:
    got: list[str] = []

    async def keep(event: Event, delivery: Delivery) -> None:
        got.append(delivery.message_id)

    consumer = await consumer_for({REGISTRY.resolve("stock.reserved.v1"): keep}, start=False)
    message_id = await broker.publish(example(REGISTRY.resolve("stock.reserved.v1")))

    await close_connections(vhost_url, servers.management_url)
    await wait_until(broker.is_ready, timeout=20, what="broker reconnected")
    await consumer.start()
    await wait_until(lambda: _ready(got == [message_id]), what="confirmed message consumed")


async def _declare_exchange(broker: Broker, name: str) -> None:
    channel = await broker.channel()
    await channel.declare_exchange(name, "topic", durable=True)
    await channel.close()


async def _ready(value: bool) -> bool:
    await asyncio.sleep(0)
    return value
