"""Shared pieces of the runtime's integration tests: a one-table store whose state commits with
the outbox, the database, broker and tap around it, and a delivery's metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest

from warren import db
from warren.contracts.event import Event
from warren.messaging import Broker, Delivery
from warren.testing import EventTap

NOTES = db.Migration("notes.0001", "CREATE TABLE notes (text text NOT NULL)")


class Notes:
    """A tiny store: one table, so a test can check state and outbox commit together."""

    def __init__(self, conn: db.Connection) -> None:
        self.conn = conn

    async def add(self, text: str) -> None:
        await self.conn.execute("INSERT INTO notes (text) VALUES ($1)", text)


async def record_and_emit(events: Sequence[Event], store: Notes) -> Sequence[Event]:
    """A step: change the state, return ``events`` to publish."""
    await store.add("state changed")
    return events


def delivery(message_id: str, attempt: int = 1, queue: str = "inventory.reservations") -> Delivery:
    """The metadata of delivery ``attempt`` of an ``order.placed.v1`` message."""
    return Delivery(
        message_id=message_id,
        event_type="order.placed.v1",
        source="/warren/orders",
        time=datetime.now(UTC),
        correlation_id=None,
        queue=queue,
        attempt=attempt,
        redelivered=attempt > 1,
        headers={},
    )


async def unsent(database: db.Database) -> int:
    """Outbox rows not yet marked sent."""
    return int(
        await database.pool.fetchval("SELECT count(*) FROM warren_outbox WHERE sent_at IS NULL")
    )


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[db.Database]:
    """This test's fresh database, with the notes table."""
    opened = await db.Database.open(database_url, migrations=[NOTES], max_size=8)
    yield opened
    await opened.close()


@pytest.fixture
async def broker(vhost_url: str) -> AsyncIterator[Broker]:
    """A connected broker publishing as ``orders``, its exchange declared."""
    connected = Broker(vhost_url, "orders")
    await connected.connect()
    await connected.declare()
    yield connected
    await connected.close()


@pytest.fixture
async def tap(vhost_url: str, broker: Broker) -> AsyncIterator[EventTap]:
    """Every event published to ``orders.events`` during the test."""
    async with EventTap(vhost_url, ["orders.events"]) as events:
        yield events
