"""Prometheus metrics move by exactly what happened: messages published and consumed, a retry,
a dead-letter, an unroutable publish, handler durations, inbox duplicates, and the outbox's
pending rows, oldest age and publish lag."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren import db, telemetry
from warren.contracts.event import Event
from warren.messaging import Broker, Delivery, PermanentError, RetryPolicy, UnroutableError
from warren.messaging.relay import OutboxRelay
from warren.runtime import Writer
from warren.testing import wait_until

from .conftest import Metric

PLACED = REGISTRY.resolve("order.placed.v1")
CONFIRMED = REGISTRY.resolve("order.confirmed.v1")
ORDERS = 5


async def test_counters_move_by_the_orders_a_retry_and_a_dead_letter(
    broker: Broker, consumer_for
) -> None:
    flaky_order, bad_order = str(uuid.uuid4()), str(uuid.uuid4())

    async def handle(event: Event, delivery: Delivery) -> None:
        if delivery.correlation_id == bad_order:
            raise PermanentError("unknown customer")
        if delivery.correlation_id == flaky_order and delivery.attempt == 1:
            raise ConnectionError("provider unavailable")
        await asyncio.sleep(0.01)

    placed = {"event_type": "order.placed.v1"}
    work = {"queue": "probe.work", **placed}
    published = Metric(
        "warren_messages_published_total", exchange="orders.events", **placed, outcome="ok"
    )
    to_retry = Metric(
        "warren_messages_published_total", exchange="probe.retry", **placed, outcome="ok"
    )
    to_dlq = Metric("warren_messages_published_total", exchange="probe.dlx", **placed, outcome="ok")
    acked = Metric("warren_messages_consumed_total", **work, outcome="ack")
    retried_outcome = Metric("warren_messages_consumed_total", **work, outcome="retry")
    dead_outcome = Metric("warren_messages_consumed_total", **work, outcome="dead_letter")
    retried = Metric("warren_messages_retried_total", **work, error_type="ConnectionError")
    dead = Metric("warren_messages_dead_lettered_total", **work, error_type="PermanentError")
    handled = Metric("warren_handler_duration_seconds_count", **work)
    fast = Metric("warren_handler_duration_seconds_bucket", **work, le="0.005")
    unroutable = Metric(
        "warren_messages_published_total",
        exchange="orders.events",
        event_type="order.confirmed.v1",
        outcome="unroutable",
    )

    await consumer_for({PLACED: handle}, retry=RetryPolicy((0.1,)))
    for _ in range(ORDERS):
        await broker.publish(example(PLACED, order_id=uuid.uuid4()))
    await broker.publish(example(PLACED, order_id=flaky_order))
    await broker.publish(example(PLACED, order_id=bad_order))
    with pytest.raises(UnroutableError):  # nobody consumes order.confirmed here
        await broker.publish(example(CONFIRMED, order_id=uuid.uuid4()))

    await wait_until(
        lambda: _now(acked.delta() == ORDERS + 1 and dead.delta() == 1),
        timeout=10,
        what="every message handled",
    )
    await asyncio.sleep(0.3)  # a surplus delivery would be counted here
    assert published.delta() == ORDERS + 2
    assert acked.delta() == ORDERS + 1  # the flaky one on its second attempt
    assert (retried_outcome.delta(), retried.delta(), to_retry.delta()) == (1, 1, 1)
    assert (dead_outcome.delta(), dead.delta(), to_dlq.delta()) == (1, 1, 1)
    assert handled.delta() == ORDERS + 3  # every handler call, whatever its outcome
    assert fast.delta() <= 2  # the 5 + 1 successful calls slept 10 ms each
    assert unroutable.delta() == 1

    # The same numbers are in the text /metrics serves.
    body, content_type = telemetry.metrics.exposition()
    assert content_type.startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {
        "warren_messages_published",
        "warren_messages_consumed",
        "warren_messages_retried",
        "warren_messages_dead_lettered",
        "warren_handler_duration_seconds",
    } <= names


async def test_an_unknown_event_type_counts_as_other(broker: Broker, consumer_for) -> None:
    """A type the queue does not handle is dead-lettered under ``other``: bounded labels."""
    dead = Metric(
        "warren_messages_dead_lettered_total",
        queue="probe.work",
        event_type="other",
        error_type="UnexpectedEventType",
    )

    async def handle(event: Event, delivery: Delivery) -> None:
        pass

    await consumer_for({CONFIRMED: handle})  # bound to order.confirmed only
    channel = await broker.channel()  # route an order.placed to the queue by hand
    queue = await channel.get_queue("probe.work")
    exchange = await channel.get_exchange("orders.events")
    await queue.bind(exchange, "order.placed.v1")
    await channel.close()
    await broker.publish(example(PLACED, order_id=uuid.uuid4()))
    await wait_until(lambda: _now(dead.delta() == 1), timeout=10, what="dead-lettered as other")


async def test_outbox_gauges_and_publish_lag(database: db.Database, broker: Broker) -> None:
    async def emit(events: Sequence[Event], store: object) -> Sequence[Event]:
        return events

    channel = await broker.channel()  # a queue so the relay's mandatory publishes are routable
    queue = await channel.declare_queue(exclusive=True)
    exchange = await channel.declare_exchange("orders.events", "topic", durable=True)
    await queue.bind(exchange, "#")
    lag = Metric("warren_outbox_publish_lag_seconds_count")
    writer = Writer(database, "orders", lambda conn: conn)
    relay = OutboxRelay(database, broker)
    assert await relay.measure_backlog() == (0, 0.0)

    await writer.execute(emit, [example(PLACED, order_id=uuid.uuid4()) for _ in range(3)])
    await asyncio.sleep(0.2)
    backlog = await relay.measure_backlog()
    assert backlog is not None
    assert backlog[0] == 3
    assert 0.2 <= backlog[1] < 10
    assert Metric("warren_outbox_pending_messages").value() == 3
    assert Metric("warren_outbox_oldest_pending_age_seconds").value() == backlog[1]

    assert await relay.relay_once() == (3, 0)
    assert lag.delta() == 3
    assert await relay.measure_backlog() == (0, 0.0)
    assert Metric("warren_outbox_pending_messages").value() == 0
    await channel.close()


async def test_a_duplicate_delivery_is_counted_once_skipped(database: db.Database) -> None:
    calls = 0

    async def step(event: Event, store: object) -> Sequence[Event]:
        nonlocal calls
        calls += 1
        return []

    duplicates = Metric(
        "warren_inbox_duplicates_total", consumer="probe.work", event_type="order.placed.v1"
    )
    writer = Writer(database, "probe", lambda conn: conn)
    delivery = Delivery(
        message_id=str(uuid.uuid4()),
        event_type="order.placed.v1",
        source="/warren/orders",
        time=datetime.now(UTC),
        correlation_id=None,
        queue="probe.work",
        attempt=1,
        redelivered=False,
        headers={},
    )
    event = example(PLACED, order_id=uuid.uuid4())
    for _ in range(3):
        await writer.consume(step, "probe.work", event, delivery)
    assert (calls, duplicates.delta()) == (1, 2)


async def _now(value: bool) -> bool:
    return value
