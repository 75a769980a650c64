"""The bus outbox on real PostgreSQL and RabbitMQ: a step's events published by its own process
right after commit, marked sent in batches, with the relay as the safety net for what the
dispatcher could not publish (refused, or never tried because the process died)."""

from __future__ import annotations

import time
import uuid

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from tests.integration.runtime.conftest import Notes, record_and_emit, unsent
from warren import db
from warren.messaging import Broker
from warren.messaging.dispatcher import Dispatcher
from warren.messaging.relay import OutboxRelay
from warren.runtime import Writer
from warren.testing import EventTap, wait_until

PLACED = REGISTRY.resolve("order.placed.v1")
CONFIRMED = REGISTRY.resolve("order.confirmed.v1")


async def test_events_are_published_after_commit_without_the_relay_and_marked_sent(
    database: db.Database, broker: Broker, tap: EventTap
) -> None:
    relay = OutboxRelay(database, broker, idle_poll=60.0)  # never started: it cannot publish
    dispatcher = Dispatcher(relay, reservation=60.0)
    dispatcher.start()
    writer = Writer(database, "orders", Notes, dispatcher=dispatcher)
    try:
        orders = [uuid.uuid4() for _ in range(20)]
        for order_id in orders:
            await writer.execute(record_and_emit, [example(PLACED, order_id)])
        for order_id in orders:
            await tap.wait_for("order.placed.v1", subject=str(order_id), timeout=5)
        await wait_until(lambda: _is(unsent(database), 0), what="every row marked sent")
    finally:
        await dispatcher.stop()
        await relay.stop()
    assert (dispatcher.published, dispatcher.released, relay.rounds) == (20, 0, 0)


async def test_later_events_of_an_aggregate_follow_the_head_in_order(
    database: db.Database, broker: Broker, tap: EventTap
) -> None:
    """The head goes out directly; the rows behind it are the relay's, woken by the mark."""
    relay = OutboxRelay(database, broker, idle_poll=60.0)  # no poll can rescue a lost wake-up
    dispatcher = Dispatcher(relay, reservation=60.0)
    writer = Writer(database, "orders", Notes, dispatcher=dispatcher)
    relay.start()
    dispatcher.start()
    try:
        order_id = uuid.uuid4()
        events = [example(PLACED if i % 2 == 0 else CONFIRMED, order_id) for i in range(5)]
        await writer.execute(record_and_emit, events[:1])
        await writer.execute(record_and_emit, events[1:])  # written while the head may be unsent
        await wait_until(
            lambda: _is(_count(tap, order_id), 5), timeout=10, what="all five published"
        )
    finally:
        await dispatcher.stop()
        await relay.stop()
    written = await database.pool.fetch("SELECT id::text FROM warren_outbox ORDER BY seq")
    assert [seen.envelope.id for seen in tap.about(str(order_id))] == [r["id"] for r in written]
    assert dispatcher.published == 1


async def test_a_refused_publish_is_released_to_the_relay_at_once(
    database: db.Database, vhost_url: str, tap: EventTap
) -> None:
    """A message over the broker's size limit is refused: the relay takes it (and backs off),
    rather than the row waiting out its reservation."""
    small = Broker(vhost_url, "orders", max_message_bytes=10)  # every event is too large
    await small.connect()
    relay = OutboxRelay(database, small, idle_poll=60.0)
    dispatcher = Dispatcher(relay, reservation=60.0)
    writer = Writer(database, "orders", Notes, dispatcher=dispatcher)
    relay.start()
    dispatcher.start()
    try:
        await writer.execute(record_and_emit, [example(PLACED, uuid.uuid4())])
        await wait_until(lambda: _is(_attempts(database), 1), what="the relay tried it too")
    finally:
        await dispatcher.stop()
        await relay.stop()
        await small.close()
    assert (dispatcher.published, dispatcher.released) == (0, 1)
    assert await unsent(database) == 1  # never lost: it waits in the outbox, backing off


async def test_a_row_whose_writer_died_is_published_by_a_relay_once_the_reservation_lapses(
    database: db.Database, broker: Broker, tap: EventTap
) -> None:
    dead = Dispatcher(OutboxRelay(database, broker), reservation=0.5)  # never started
    writer = Writer(database, "orders", Notes, dispatcher=dead)
    dead.dispatch = lambda records: None  # type: ignore[method-assign]  # it died at commit
    order_id = uuid.uuid4()
    written = time.monotonic()
    await writer.execute(record_and_emit, [example(PLACED, order_id)])

    relay = OutboxRelay(database, broker, idle_poll=0.1)
    relay.start()
    try:
        await tap.wait_for("order.placed.v1", subject=str(order_id), timeout=10)
        seen_after = time.monotonic() - written
        await wait_until(lambda: _is(unsent(database), 0), what="marked sent by the relay")
    finally:
        await relay.stop()
    assert relay.published == 1
    assert seen_after >= 0.5  # the relay kept off it until the reservation lapsed


async def _is(value: object, expected: int) -> bool:
    return await value == expected  # type: ignore[misc]


async def _count(tap: EventTap, order_id: uuid.UUID) -> int:
    return len(tap.about(str(order_id)))


async def _attempts(database: db.Database) -> int:
    return int(await database.pool.fetchval("SELECT coalesce(max(attempts), 0) FROM warren_outbox"))
