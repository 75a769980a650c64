"""The broker vouches for the publisher: with the generated definitions imported and each service
logged in as itself, every cross-service forgery is refused by RabbitMQ (topic and resource
permissions: ACCESS_REFUSED; a user_id that is not the login: PRECONDITION_FAILED), and what the
operator publishes in a service's name is refused by the consumer's user_id check.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from urllib.parse import unquote, urlsplit

import aio_pika
import pytest

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren.cli._topology import service_topologies
from warren.contracts.envelope import CONTENT_TYPE, encode, wrap
from warren.contracts.event import Event
from warren.messaging import Broker, Consumer, Delivery, PublishError, WorkQueue
from warren.messaging.message import OutgoingMessage, prepare
from warren.messaging.topology import events_exchange
from warren.testing import Servers, vhost_url, wait_until


async def test_no_service_user_can_publish_an_event_it_does_not_own(imported) -> None:
    refusals = 0
    for topology in service_topologies():
        broker = Broker(imported.urls[topology.service], topology.service)
        await broker.connect()
        try:
            for event_class in REGISTRY:
                if event_class.producer == topology.service:
                    continue
                event = example(event_class, order_id=uuid.uuid4())
                # on the owner's exchange: no write permission there
                with pytest.raises(PublishError, match="ACCESS_REFUSED"):
                    await broker.publish(event)
                # on its own exchange, under the other's routing key: the topic permission
                message = prepare(event, service=topology.service)
                own = events_exchange(topology.service)
                with pytest.raises(PublishError, match="ACCESS_REFUSED"):
                    await broker.send(_readdressed(message, own))
                refusals += 2
            for event_class in topology.publishes:  # and it still publishes its own
                await broker.publish(example(event_class, order_id=uuid.uuid4()))
        finally:
            await broker.close()
    assert refusals == 2 * sum(
        1 for t in service_topologies() for e in REGISTRY if e.producer != t.service
    )


async def test_a_user_id_that_is_not_the_login_is_refused(imported) -> None:
    publisher = next(t for t in service_topologies() if t.publishes)
    other = next(t for t in service_topologies() if t.service != publisher.service)
    broker = Broker(imported.urls[publisher.service], publisher.service)
    await broker.connect()
    login = broker.user
    try:
        broker.user = _login(imported.urls[other.service])  # claim to be another service
        with pytest.raises(PublishError, match="PRECONDITION_FAILED"):
            await broker.publish(example(publisher.publishes[0], order_id=uuid.uuid4()))
        broker.user = login
        await broker.publish(example(publisher.publishes[0], order_id=uuid.uuid4()))
    finally:
        await broker.close()


async def test_only_the_owners_broker_user_reaches_a_handler(imported, servers: Servers) -> None:
    queue, event_class = next(
        (q, e)
        for t in service_topologies()
        for q in t.queues
        for e in q.handlers
        if e.producer != q.service
    )
    handled: list[str] = []

    async def record(event: Event, delivery: Delivery) -> None:
        handled.append(delivery.message_id)

    consuming = Broker(imported.urls[queue.service], queue.service)
    await consuming.connect()
    recording = WorkQueue(queue.service, queue.purpose, dict.fromkeys(queue.handlers, record),
                          prefetch=queue.prefetch, retry=queue.retry,
                          delivery_limit=queue.delivery_limit)  # fmt: skip
    consumer = Consumer(consuming, recording)
    assert consumer.verify_publisher  # on by default with a service's own user
    await consumer.start()
    vhost = unquote(urlsplit(imported.urls[queue.service]).path[1:])
    operator = await aio_pika.connect(vhost_url(servers.amqp_url, vhost))
    try:
        # The operator may write anywhere, so it can forge a perfect message in the owner's
        # name; the broker stamps no user_id for it, and the consumer asks for the owner's.
        channel = await operator.channel()
        envelope = wrap(example(event_class, order_id=uuid.uuid4()),
                        source=f"/warren/{event_class.producer}")  # fmt: skip
        exchange = await channel.get_exchange(events_exchange(event_class.producer))
        await exchange.publish(
            aio_pika.Message(
                encode(envelope),
                content_type=CONTENT_TYPE,
                message_id=envelope.id,
                type=event_class.type,
            ),
            routing_key=event_class.type,
        )
        owner = Broker(imported.urls[event_class.producer], event_class.producer)
        await owner.connect()
        genuine = await owner.publish(example(event_class, order_id=uuid.uuid4()))
        await owner.close()
        await wait_until(lambda: _now(genuine in handled), what="the owner's event handled")
        dlq = await channel.declare_queue(queue.dead_letter_queue, passive=True)
        dead = await wait_until(lambda: dlq.get(fail=False, no_ack=True), what="the forgery")
        assert dead.message_id == envelope.id
        assert dead.headers["x-error-type"] == "UntrustedSource"
        assert "broker user" in str(dead.headers["x-error-message"])
        assert handled == [genuine]
    finally:
        await consumer.stop()
        await consuming.close()
        await operator.close()


def _readdressed(message: OutgoingMessage, exchange: str) -> OutgoingMessage:
    return replace(message, exchange=exchange)


def _login(url: str) -> str:
    return unquote(urlsplit(url).username or "")


async def _now(value: bool) -> bool:
    return value
