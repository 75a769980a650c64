"""The transactional outbox on real PostgreSQL and RabbitMQ: written with the state, published
after commit (woken by NOTIFY), once, in order per aggregate, by several relays at once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence

import pytest

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from tests.integration.runtime.conftest import Notes, record_and_emit
from warren import db
from warren.contracts.event import Event
from warren.messaging import Broker
from warren.messaging.relay import OutboxRelay
from warren.runtime import Writer
from warren.testing import EventTap, wait_until

PLACED = REGISTRY.resolve("order.placed.v1")
CONFIRMED = REGISTRY.resolve("order.confirmed.v1")


async def test_state_and_events_commit_together_and_publish_after_commit(
    database: db.Database, broker: Broker, tap: EventTap
) -> None:
    writer = Writer(database, "orders", Notes)
    relay = OutboxRelay(database, broker, idle_poll=30.0)  # only NOTIFY can wake it in time
    relay.start()
    try:
        order_id = uuid.uuid4()
        started = time.monotonic()
        await writer.execute(record_and_emit, [example(PLACED, order_id)])
        seen = await tap.wait_for("order.placed.v1", subject=str(order_id), timeout=5)
        assert time.monotonic() - started < 5  # woken by NOTIFY, not by the 30 s poll
        assert seen.correlation_id == str(order_id)
        unsent = await wait_until(lambda: _unsent_is(database, 0), what="row marked sent")
        assert unsent
    finally:
        await relay.stop()


async def test_a_rolled_back_step_publishes_nothing(
    database: db.Database, broker: Broker, tap: EventTap
) -> None:
    async def fail_after_writing(events: Sequence[Event], store: Notes) -> Sequence[Event]:
        await store.add("doomed")
        raise RuntimeError("boom")

    writer = Writer(database, "orders", Notes)
    with pytest.raises(RuntimeError):
        await writer.execute(fail_after_writing, [example(PLACED, uuid.uuid4())])
    assert await database.pool.fetchval("SELECT count(*) FROM notes") == 0
    assert await database.pool.fetchval("SELECT count(*) FROM warren_outbox") == 0


async def test_rows_written_while_no_relay_ran_are_published_when_one_starts(
    database: db.Database, broker: Broker, tap: EventTap
) -> None:
    writer = Writer(database, "orders", Notes)
    order_id = uuid.uuid4()
    await writer.execute(record_and_emit, [example(PLACED, order_id)])  # "crash" before publish
    relay = OutboxRelay(database, broker)
    relay.start()
    try:
        await tap.wait_for("order.placed.v1", subject=str(order_id), timeout=10)
    finally:
        await relay.stop()


async def test_rows_of_one_aggregate_written_together_go_out_without_waiting_for_a_poll(
    database: db.Database, broker: Broker, tap: EventTap
) -> None:
    """Only the first of them is claimable at a time, and their one NOTIFY is long consumed:
    the relay must know by itself that the next ones wait behind the row it just sent."""
    writer = Writer(database, "orders", Notes)
    order_id = uuid.uuid4()
    relay = OutboxRelay(database, broker, idle_poll=30.0)
    relay.start()
    try:
        events = [example(PLACED if i % 2 == 0 else CONFIRMED, order_id) for i in range(5)]
        await writer.execute(record_and_emit, events)
        await wait_until(
            lambda: _now(len(tap.about(str(order_id))) == 5), timeout=5, what="5 published"
        )
    finally:
        await relay.stop()
    written = await database.pool.fetch("SELECT id::text FROM warren_outbox ORDER BY seq")
    assert [t.envelope.id for t in tap.about(str(order_id))] == [r["id"] for r in written]


async def test_a_round_that_leaves_nothing_behind_is_not_followed_by_an_empty_one(
    database: db.Database, broker: Broker, tap: EventTap
) -> None:
    """A sent row that nothing waits behind: the relay waits for the next NOTIFY, it does not
    spend a transaction claiming nothing."""
    writer = Writer(database, "orders", Notes)
    relay = OutboxRelay(database, broker, idle_poll=30.0)
    relay.start()
    try:
        await wait_until(lambda: _now(relay.rounds == 1), what="the first (empty) round")
        order_id = uuid.uuid4()
        await writer.execute(record_and_emit, [example(PLACED, order_id)])
        await tap.wait_for("order.placed.v1", subject=str(order_id), timeout=5)
        await asyncio.sleep(0.3)  # an eager relay would claim again here
        assert relay.rounds == 2
    finally:
        await relay.stop()


async def test_the_relay_does_not_wait_for_the_wal_flush_to_mark_rows_sent(
    database: db.Database, broker: Broker
) -> None:
    """A "sent" mark lost in a server crash only means a row is published again (at-least-once,
    absorbed by inboxes); the outbox rows themselves keep the database's durability."""
    relay = OutboxRelay(database, broker)
    try:
        conn = await relay._connection()
        assert await conn.fetchval("SHOW synchronous_commit") == "off"
        assert await database.pool.fetchval("SHOW synchronous_commit") == "on"
    finally:
        await relay.stop()


async def test_three_relays_publish_each_row_once_in_order_per_aggregate(
    database: db.Database, broker: Broker, tap: EventTap
) -> None:
    writer = Writer(database, "orders", Notes)
    orders = [uuid.uuid4() for _ in range(20)]
    for round_ in range(10):  # 10 events per order, interleaved across orders
        await asyncio.gather(
            *(
                writer.execute(
                    record_and_emit,
                    [example(PLACED if round_ % 2 == 0 else CONFIRMED, order_id)],
                )
                for order_id in orders
            )
        )
    relays = [OutboxRelay(database, broker, batch_size=7) for _ in range(3)]
    for relay in relays:
        relay.start()
    try:
        await wait_until(lambda: _now(len(tap.seen) >= 200), timeout=30, what="200 published")
        await asyncio.sleep(0.5)  # a double publish would arrive here
    finally:
        for relay in relays:
            await relay.stop()
    ids = [t.envelope.id for t in tap.seen]
    assert len(ids) == len(set(ids)) == 200
    written = await database.pool.fetch(
        "SELECT id::text, aggregate_id FROM warren_outbox ORDER BY seq"
    )
    for order_id in orders:
        expected = [r["id"] for r in written if r["aggregate_id"] == str(order_id)]
        assert [t.envelope.id for t in tap.about(str(order_id))] == expected
    assert sum(relay.published for relay in relays) == 200
    assert sum(1 for relay in relays if relay.published) >= 2  # the work was shared


async def _unsent_is(database: db.Database, count: int) -> bool:
    return bool(
        await database.pool.fetchval("SELECT count(*) FROM warren_outbox WHERE sent_at IS NULL")
        == count
    )


async def _now(value: bool) -> bool:
    return value
