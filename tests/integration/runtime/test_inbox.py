"""The idempotent inbox on real PostgreSQL: a redelivered message id changes nothing, and a
failed handler forgets that it saw the message so its retry can run."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

import pytest

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from tests.integration.runtime.conftest import delivery
from warren import db
from warren.contracts.event import Event
from warren.runtime import Writer

PLACED = REGISTRY.resolve("order.placed.v1")
CONFIRMED = REGISTRY.resolve("order.confirmed.v1")
COUNTER = db.Migration("counter.0001", "CREATE TABLE seen (order_id uuid NOT NULL)")


class Seen:
    def __init__(self, conn: db.Connection) -> None:
        self.conn = conn

    async def add(self, order_id: uuid.UUID) -> None:
        await self.conn.execute("INSERT INTO seen (order_id) VALUES ($1)", order_id)


async def count_and_confirm(event: Event, store: Seen) -> Sequence[Event]:
    await store.add(event.order_id)  # type: ignore[attr-defined]
    return [example(CONFIRMED, event.order_id)]  # type: ignore[attr-defined]


@pytest.fixture
async def writer(database_url: str) -> AsyncIterator[Writer[Seen]]:
    database = await db.Database.open(database_url, migrations=[COUNTER])
    yield Writer(database, "orders", Seen)
    await database.close()


async def test_the_same_message_twice_changes_state_once(writer: Writer[Seen]) -> None:
    event = example(PLACED, uuid.uuid4())
    message_id = str(uuid.uuid4())
    await writer.consume(count_and_confirm, "inventory.reservations", event, delivery(message_id))
    await writer.consume(
        count_and_confirm, "inventory.reservations", event, delivery(message_id, 2)
    )

    pool = writer.database.pool
    assert await pool.fetchval("SELECT count(*) FROM seen") == 1
    assert await pool.fetchval("SELECT count(*) FROM warren_outbox") == 1


async def test_another_consumer_of_the_same_message_is_not_a_duplicate(
    writer: Writer[Seen],
) -> None:
    event = example(PLACED, uuid.uuid4())
    message_id = str(uuid.uuid4())
    await writer.consume(count_and_confirm, "inventory.reservations", event, delivery(message_id))
    await writer.consume(count_and_confirm, "inventory.audit", event, delivery(message_id))
    assert await writer.database.pool.fetchval("SELECT count(*) FROM seen") == 2


async def test_a_failed_handler_leaves_no_inbox_entry(writer: Writer[Seen]) -> None:
    async def flaky(event: Event, store: Seen) -> Sequence[Event]:
        await store.add(event.order_id)  # type: ignore[attr-defined]
        raise ConnectionError("provider down")

    event = example(PLACED, uuid.uuid4())
    message_id = str(uuid.uuid4())
    with pytest.raises(ConnectionError):
        await writer.consume(flaky, "inventory.reservations", event, delivery(message_id))
    await writer.consume(
        count_and_confirm, "inventory.reservations", event, delivery(message_id, 2)
    )
    assert await writer.database.pool.fetchval("SELECT count(*) FROM seen") == 1
