"""Topology from code on the real broker: idempotent, quorum queues, DLQs, delay queues, and the
delivery limit that catches crash loops."""

from __future__ import annotations

import uuid
from typing import ClassVar
from urllib.parse import quote, unquote, urlsplit

import httpx
import pytest

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren.contracts.event import Event
from warren.messaging import Broker, Delivery, RetryPolicy, UnroutableError, WorkQueue
from warren.testing import wait_until

PLACED = REGISTRY.resolve("order.placed.v1")
CANCELLED = REGISTRY.resolve("order.cancelled.v1")


class ProbeMeasured(Event):
    """A test-only event of the probe service's that no queue is bound for."""

    type: ClassVar[str] = "probe.measured.v1"
    producer: ClassVar[str] = "probe"
    subject_field: ClassVar[str] = "probe_id"
    probe_id: uuid.UUID


async def _nothing(event: Event, delivery: Delivery) -> None:
    return None


async def test_declaring_twice_is_idempotent_and_builds_the_design(
    broker: Broker, servers, vhost_url: str
) -> None:
    queue = WorkQueue(
        "probe", "stock", {PLACED: _nothing, CANCELLED: _nothing}, retry=RetryPolicy((0.5, 2.0))
    )
    await broker.declare([queue])
    await broker.declare([queue])  # same code, same topology: no PRECONDITION_FAILED

    vhost = quote(unquote(urlsplit(vhost_url).path[1:]), safe="")
    async with httpx.AsyncClient(base_url=servers.management_url, auth=("guest", "guest")) as api:
        queues = {q["name"]: q for q in (await api.get(f"/api/queues/{vhost}")).json()}
        exchanges = {e["name"]: e for e in (await api.get(f"/api/exchanges/{vhost}")).json()}
        bindings = (await api.get(f"/api/queues/{vhost}/probe.stock/bindings")).json()

    assert set(queues) == {
        "probe.stock",
        "probe.stock.dlq",
        "probe.stock.retry.500ms",
        "probe.stock.retry.2000ms",
        "probe.unrouted",
    }
    assert all(q["type"] == "quorum" and q["durable"] for q in queues.values())
    work = queues["probe.stock"]["arguments"]
    assert work["x-dead-letter-exchange"] == "probe.dlx"
    assert work["x-dead-letter-routing-key"] == "probe.stock.dlq"
    assert queues["probe.stock.retry.500ms"]["arguments"]["x-message-ttl"] == 500
    assert exchanges["probe.events"]["type"] == "topic"
    assert exchanges["probe.events"]["arguments"] == {"alternate-exchange": "probe.unrouted"}
    assert exchanges["probe.unrouted"]["type"] == "fanout"
    kept = queues["probe.unrouted"]["arguments"]
    assert (kept["x-overflow"], kept["x-max-length"]) == ("reject-publish", 100_000)
    assert exchanges["probe.retry"]["type"] == "direct"
    assert exchanges["probe.dlx"]["type"] == "direct"
    assert {(b["source"], b["routing_key"]) for b in bindings if b["source"]} == {
        ("orders.events", "order.placed.v1"),
        ("orders.events", "order.cancelled.v1"),
        ("probe.retry", "probe.stock"),
    }


async def test_delivery_limit_dead_letters_a_crash_loop(broker: Broker, raw_channel, drain) -> None:
    queue = WorkQueue("probe", "crashy", {PLACED: _nothing}, delivery_limit=2)
    await broker.declare([queue])
    message_id = await broker.publish(example(PLACED, uuid.uuid4()))

    amqp_queue = await raw_channel.declare_queue("probe.crashy", passive=True)
    crashes = 0
    while (message := await amqp_queue.get(fail=False)) is not None:
        crashes += 1  # a consumer that dies mid-handling returns the message every time
        await message.reject(requeue=True)
        assert crashes <= 5, "the delivery limit never kicked in"

    dead = await wait_until(lambda: drain("probe.crashy.dlq"), what="crash-looped message in DLQ")
    assert [m.message_id for m in dead] == [message_id]
    assert dead[0].headers["x-death"][0]["reason"] == "delivery_limit"
    assert crashes == 3  # first delivery + delivery_limit redeliveries


async def test_an_events_exchange_from_before_alternate_exchanges_is_kept_as_it_is(
    vhost_url: str, raw_channel
) -> None:
    """Redeclaring it with the argument would fail (PRECONDITION_FAILED) and deleting it would
    drop other services' bindings: the service starts, and its unroutable events are returned
    to it (``mandatory``) — an error its outbox backs off on — until a policy adds the AE."""
    await raw_channel.declare_exchange("orders.events", "topic", durable=True)  # the old way
    orders = Broker(vhost_url, "orders")
    await orders.connect()
    try:
        await orders.declare()
        await orders.declare()  # every restart copes the same way
        with pytest.raises(UnroutableError):
            await orders.publish(example(PLACED, uuid.uuid4()))
        # Kept, not broken: a new binding still works on the old exchange.
        queue = await raw_channel.declare_queue(exclusive=True)
        await queue.bind("orders.events", PLACED.type)
        await orders.publish(example(PLACED, uuid.uuid4()))
    finally:
        await orders.close()


async def test_an_unroutable_domain_event_is_kept_not_returned(broker: Broker, drain) -> None:
    await broker.declare()
    await broker.declare()  # the alternate exchange argument is declared alike each time
    kept = await broker.publish(ProbeMeasured(probe_id=uuid.uuid4()))

    assert [m.message_id for m in await drain("probe.unrouted")] == [kept]
    assert await broker.measure_unrouted() == 0  # drained
