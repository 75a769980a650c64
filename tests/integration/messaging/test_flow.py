"""Flow control and resilience: prefetch bounds, a 1,000-message stream through a connection drop,
and a shutdown with handlers in flight."""

from __future__ import annotations

import asyncio
import uuid

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from tests.harness import close_connections
from warren.contracts.event import Event
from warren.messaging import Broker, Consumer, Delivery
from warren.testing import wait_until

PLACED = REGISTRY.resolve("order.placed.v1")


async def test_prefetch_bounds_unacked_deliveries(broker: Broker, consumer_for) -> None:
    prefetch = 5
    active = peak = done = 0

    async def slow(event: Event, delivery: Delivery) -> None:
        nonlocal active, peak, done
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        done += 1

    await consumer_for({PLACED: slow}, prefetch=prefetch)
    await asyncio.gather(*(broker.publish(example(PLACED, uuid.uuid4())) for _ in range(40)))
    await wait_until(lambda: _now(done == 40), timeout=20, what="40 handled")
    assert peak == prefetch  # reached, never exceeded


async def test_stream_survives_closing_all_connections(
    broker: Broker, consumer_for, servers, vhost_url: str
) -> None:
    seen: dict[str, int] = {}

    async def count(event: Event, delivery: Delivery) -> None:
        seen[delivery.message_id] = seen.get(delivery.message_id, 0) + 1
        await asyncio.sleep(0.001)

    await consumer_for({PLACED: count}, prefetch=50)
    sent: list[str] = []

    async def produce() -> None:
        for _ in range(10):
            batch = [broker.publish(example(PLACED, uuid.uuid4())) for _ in range(100)]
            sent.extend(await asyncio.gather(*batch))
            await asyncio.sleep(0.1)  # a stream, not a burst: the drop must come mid-way

    producing = asyncio.create_task(produce())
    await wait_until(lambda: _now(len(seen) >= 200), timeout=20, what="stream under way")
    await close_connections(vhost_url, servers.management_url)
    assert not producing.done()  # the drop really happens mid-stream
    await producing
    await wait_until(lambda: _now(set(sent) <= set(seen)), timeout=60, what="all 1000 handled")
    await wait_until(lambda: _now(broker.reconnects >= 1), timeout=30, what="reconnected")
    assert len(set(sent)) == 1000
    assert set(seen) == set(sent)  # nothing lost, nothing unknown


async def test_shutdown_with_handlers_in_flight_loses_nothing(broker: Broker, consumer_for) -> None:
    completed: set[str] = set()
    started = asyncio.Event()

    async def slow(event: Event, delivery: Delivery) -> None:
        started.set()
        await asyncio.sleep(0.5 if delivery.message_id in first_half else 0.01)
        completed.add(delivery.message_id)

    consumer: Consumer = await consumer_for({PLACED: slow}, prefetch=10, drain_timeout=0.2)
    ids = await asyncio.gather(*(broker.publish(example(PLACED, uuid.uuid4())) for _ in range(30)))
    first_half = set(ids[:15])
    await asyncio.wait_for(started.wait(), 5)
    await consumer.stop()  # in-flight handlers outlive the drain: cancelled, never acked
    assert consumer.in_flight == 0
    assert len(completed) < 30

    await consumer.start()
    await wait_until(lambda: _now(completed == set(ids)), timeout=20, what="all 30 completed")


async def _now(value: bool) -> bool:
    return value


async def test_consumer_subscribes_again_when_its_queue_comes_back(
    broker: Broker, consumer_for, raw_channel
) -> None:
    """The broker cancels a subscription when its queue is deleted; once an operator (or the
    service's next start) declares it again, the consumer takes messages again by itself."""
    handled: list[str] = []

    async def keep(event: Event, delivery: Delivery) -> None:
        handled.append(delivery.message_id)

    consumer: Consumer = await consumer_for({PLACED: keep})
    assert await consumer.is_consuming()
    await raw_channel.queue_delete(consumer.queue.name)
    await wait_until(
        lambda: _not(consumer.is_consuming()), timeout=10, what="subscription cancelled"
    )
    await broker.declare([consumer.queue])
    await wait_until(consumer.is_consuming, timeout=15, what="subscribed again")
    sent = await broker.publish(example(PLACED, uuid.uuid4()))
    await wait_until(lambda: _now(sent in handled), timeout=10, what="handled after return")
    assert handled == [sent]


async def _not(probe) -> bool:
    return not await probe
