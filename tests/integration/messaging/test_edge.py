"""The message edge on a real broker: every cross-service forgery is dead-lettered as untrusted
before any handler runs, oversized messages are refused, and platform headers cannot be forged.

Every service's real work queues (from its own code) are declared on a fresh vhost with a
handler that only records its calls; the forgeries are derived from the registry: every producer
x every event type it does not own x every queue that consumes that type. Published with guest,
which the broker lets write anywhere, they reach the consumer, whose check is what is shown here
(the per-service users, whom the broker itself refuses, are in ``tests/integration/topology``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren.cli._topology import service_topologies
from warren.contracts.envelope import CONTENT_TYPE, encode, wrap
from warren.contracts.event import Event
from warren.messaging import Broker, Consumer, Delivery, MessageTooLarge, RetryPolicy, WorkQueue
from warren.messaging.topology import events_exchange
from warren.testing import wait_until

PLACED = REGISTRY.resolve("order.placed.v1")


@dataclass
class Suite:
    """The services' queues on this vhost, each handler recording what reached it."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    queues: dict[str, WorkQueue] = field(default_factory=dict)
    consumers: list[Consumer] = field(default_factory=list)

    async def record(self, event: Event, delivery: Delivery) -> None:
        self.calls.append((delivery.queue, delivery.message_id))


@pytest.fixture
async def suite(vhost_url: str) -> AsyncIterator[Suite]:
    suite = Suite()
    brokers = []
    for topology in service_topologies():
        broker = Broker(vhost_url, topology.service)
        await broker.connect()
        brokers.append(broker)
        queues = [
            WorkQueue(q.service, q.purpose, dict.fromkeys(q.handlers, suite.record),
                      retry=RetryPolicy((0.1,)))
            for q in topology.queues
        ]  # fmt: skip
        await broker.declare(queues)
        for queue in queues:
            suite.queues[queue.name] = queue
            consumer = Consumer(broker, queue, drain_timeout=2.0)
            await consumer.start()
            suite.consumers.append(consumer)
    yield suite
    for consumer in suite.consumers:
        await consumer.stop()
    for broker in brokers:
        await broker.close()


def forgeries(queues: dict[str, WorkQueue]) -> list[tuple[str, type[Event], WorkQueue]]:
    """(producer, event type it does not own, a queue consuming that type), for every one."""
    producers = sorted(
        {event.producer for event in REGISTRY} | {q.service for q in queues.values()}
    )
    return [
        (producer, event, queue)
        for producer in producers
        for queue in queues.values()
        for event in queue.handlers
        if event.producer != producer
    ]


def _message(event: Event, *, source: str, amqp_type: str, **headers: Any) -> aio_pika.Message:
    envelope = wrap(event, source=source)
    return aio_pika.Message(
        encode(envelope),
        content_type=CONTENT_TYPE,
        message_id=envelope.id,
        type=amqp_type,
        headers=headers,
    )


async def _dead(channel: aio_pika.abc.AbstractChannel, queue: str, ids: set[str]) -> dict:
    """The dead letters of ``ids`` in ``queue``'s DLQ (waited for, removed)."""
    found: dict[str, aio_pika.abc.AbstractIncomingMessage] = {}
    dlq = await channel.declare_queue(f"{queue}.dlq", passive=True)

    async def collected() -> bool:
        while (message := await dlq.get(fail=False, no_ack=True)) is not None:
            found[message.message_id or ""] = message
        return ids <= set(found)

    await wait_until(collected, timeout=15, what=f"{len(ids)} dead letters in {queue}.dlq")
    return found


async def test_every_cross_service_forgery_is_dead_lettered_untouched(
    suite: Suite, raw_channel
) -> None:
    cases = forgeries(suite.queues)
    assert cases  # the suite has consumers of other services' events
    expected: dict[str, dict[str, str]] = {}
    for producer, event_class, queue in cases:
        event = example(event_class, order_id=uuid.uuid4())
        # 1. the real type on its owner's exchange, but the forger's source
        owner_exchange = await raw_channel.get_exchange(events_exchange(event_class.producer))
        forged = _message(event, source=f"/warren/{producer}", amqp_type=event_class.type)
        await owner_exchange.publish(forged, routing_key=event_class.type, mandatory=True)
        expected.setdefault(queue.name, {})[forged.message_id or ""] = "source"
        # 2. the forger's own exchange, with a routing key of its own that the queue consumes
        own = [e for e in queue.handlers if e.producer == producer]
        if own:
            exchange = await raw_channel.get_exchange(events_exchange(producer))
            for amqp_type, reason in ((event_class.type, "exchange"), (own[0].type, "type")):
                forged = _message(event, source=f"/warren/{event_class.producer}",
                                  amqp_type=amqp_type)  # fmt: skip
                await exchange.publish(forged, routing_key=own[0].type, mandatory=True)
                expected[queue.name][forged.message_id or ""] = reason

    for queue_name, reasons in expected.items():
        dead = await _dead(raw_channel, queue_name, set(reasons))
        for message_id, reason in reasons.items():
            headers = dead[message_id].headers or {}
            assert headers["x-error-type"] == "UntrustedSource", (queue_name, reason)
            assert reason in _reason_words(str(headers["x-error-message"])), headers
    assert suite.calls == []  # no handler ran: nothing changed


def _reason_words(message: str) -> set[str]:
    words = {"source": "source", "exchange": "exchange", "type": "AMQP type"}
    return {reason for reason, word in words.items() if word in message}


async def test_the_owner_still_gets_through(suite: Suite, vhost_url: str) -> None:
    orders = Broker(vhost_url, "orders")
    await orders.connect()
    try:
        message_id = await orders.publish(example(PLACED, order_id=uuid.uuid4()))
    finally:
        await orders.close()
    consumers = {q.name for q in suite.queues.values() if PLACED in q.handlers}
    await wait_until(
        lambda: _now({q for q, m in suite.calls if m == message_id} == consumers),
        what="order.placed handled by every consumer",
    )


async def test_an_oversized_message_is_refused_before_it_is_sent(vhost_url: str, raw_channel):
    broker = Broker(vhost_url, "orders", max_message_bytes=200)  # an order is ~500 bytes
    await broker.connect()
    queue = await raw_channel.declare_queue(exclusive=True)
    await queue.bind(await raw_channel.declare_exchange("orders.events", "topic", durable=True),
                     "#")  # fmt: skip
    try:
        with pytest.raises(MessageTooLarge, match="over MAX_MESSAGE_BYTES=200"):
            await broker.publish(example(PLACED, order_id=uuid.uuid4()))
        broker.max_message_bytes = 256 * 1024
        small = await broker.publish(example(PLACED, order_id=uuid.uuid4()))
    finally:
        await broker.close()
    message = await wait_until(lambda: queue.get(fail=False, no_ack=True), what="the small one")
    assert message.message_id == small  # the big one never left


async def test_an_oversized_delivery_is_dead_lettered_with_its_body(
    suite: Suite, raw_channel
) -> None:
    event = example(PLACED, order_id=uuid.uuid4())
    envelope = wrap(event, source="/warren/orders")
    body = encode(envelope)[:-1] + b', "padding": "' + b"x" * (300 * 1024) + b'"}'
    exchange = await raw_channel.get_exchange("orders.events")
    await exchange.publish(
        aio_pika.Message(body, content_type=CONTENT_TYPE, message_id=envelope.id, type=PLACED.type),
        routing_key=PLACED.type,
        mandatory=True,
    )
    queue = next(q for q in suite.queues.values() if PLACED in q.handlers)
    dead = (await _dead(raw_channel, queue.name, {envelope.id}))[envelope.id]
    assert dead.headers["x-error-type"] == "MessageTooLarge"
    assert dead.body == body  # kept, for the operator to look at
    assert suite.calls == []


async def test_a_forged_attempt_count_is_a_first_attempt(vhost_url: str, raw_channel) -> None:
    attempts: list[int] = []

    async def failing(event: Event, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        raise RuntimeError("transient")

    broker = Broker(vhost_url, "inventory")
    await broker.connect()
    queue = WorkQueue("inventory", "forged", {PLACED: failing}, retry=RetryPolicy((0.1, 0.1)))
    await broker.declare([queue])
    consumer = Consumer(broker, queue)
    await consumer.start()
    try:
        forged = _message(example(PLACED, order_id=uuid.uuid4()), source="/warren/orders",
                          amqp_type=PLACED.type, **{"x-attempts": 99,
                          "x-original-exchange": "payments.events"})  # fmt: skip
        exchange = await raw_channel.get_exchange("orders.events")
        await exchange.publish(forged, routing_key=PLACED.type, mandatory=True)
        dead = (await _dead(raw_channel, queue.name, {forged.message_id or ""}))[
            forged.message_id or ""
        ]
    finally:
        await consumer.stop()
        await broker.close()
    assert attempts == [1, 2, 3]  # every retry it was owed, not dead-lettered at once
    assert dead.headers["x-attempts"] == 3
    assert dead.headers["x-original-exchange"] == "orders.events"  # what really happened


async def _now(value: bool) -> bool:
    return value
