"""AMQP over TLS against the tests' own TLS-only RabbitMQ nodes: round trips with the broker's
certificate verified (and with a client certificate where the node demands one), and every
shortcut refused — a stranger CA, a host name the certificate does not name, plain AMQP, no
client certificate where one is required."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiormq.exceptions import AMQPConnectionError
from tls_setup import Pki, amqp_url

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from tests.harness import RabbitCluster
from warren.contracts.event import Event
from warren.messaging import Broker, Consumer, Delivery, RetryPolicy, WorkQueue
from warren.testing import wait_until

PLACED = REGISTRY.resolve("order.placed.v1")


async def round_trip(url: str) -> None:
    """Publish an event through ``url`` and consume it back through the same URL."""
    received: list[tuple[Event, Delivery]] = []

    async def keep(event: Event, delivery: Delivery) -> None:
        received.append((event, delivery))

    purpose = f"tls-{uuid.uuid4().hex[:8]}"
    broker = Broker(url, "orders")
    await broker.connect(timeout=10)
    try:
        queue = WorkQueue("orders", purpose, {PLACED: keep}, retry=RetryPolicy((0.1,)))
        await broker.declare([queue])
        consumer = Consumer(broker, queue, drain_timeout=2)
        await consumer.start()
        try:
            event = example(PLACED, order_id=uuid.uuid4())
            message_id = await broker.publish(event)
            await wait_until(lambda: _done(bool(received)), timeout=10, what="event consumed")
            assert received[0][0] == event
            assert received[0][1].message_id == message_id
        finally:
            await consumer.stop()
    finally:
        await broker.close()


async def _done(value: bool) -> bool:
    return value


async def refused(url: str) -> str:
    """The error text of a connection attempt to ``url`` that must fail."""
    broker = Broker(url, "orders")
    with pytest.raises((AMQPConnectionError, ConnectionError, asyncio.TimeoutError)) as caught:
        await broker.connect(timeout=10)
    return str(caught.value) + repr(caught.value)


async def test_round_trip_over_amqps_verifying_the_broker(rabbit: RabbitCluster, pki: Pki) -> None:
    await round_trip(amqp_url(rabbit, cafile=pki.ca))


async def test_round_trip_with_a_client_certificate(mutual_rabbit: RabbitCluster, pki: Pki) -> None:
    url = amqp_url(
        mutual_rabbit, cafile=pki.ca, certfile=pki.client_certificate, keyfile=pki.client_key
    )
    await round_trip(url)


async def test_a_node_demanding_a_client_certificate_refuses_a_client_without_one(
    mutual_rabbit: RabbitCluster, pki: Pki
) -> None:
    error = await refused(amqp_url(mutual_rabbit, cafile=pki.ca))
    # TLS 1.3 sends the "certificate required" alert after the handshake: the client sees it, or
    # (when the node closes first) a reset of the connection it was refused on.
    assert "certificate" in error.lower() or "connection reset" in error.lower(), error


async def test_a_broker_certificate_from_another_ca_is_refused(
    rabbit: RabbitCluster, pki: Pki
) -> None:
    error = await refused(amqp_url(rabbit, cafile=pki.other_ca))
    assert "CERTIFICATE_VERIFY_FAILED" in error


async def test_a_host_name_the_certificate_does_not_name_is_refused(
    rabbit: RabbitCluster, pki: Pki
) -> None:
    error = await refused(amqp_url(rabbit, host="127.0.0.1", cafile=pki.ca))
    assert "CERTIFICATE_VERIFY_FAILED" in error
    assert "mismatch" in error


async def test_plain_amqp_is_refused_by_a_tls_only_node(rabbit: RabbitCluster) -> None:
    plain = amqp_url(rabbit).replace("amqps://", "amqp://", 1)
    await refused(plain)
