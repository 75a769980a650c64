"""Notifying customers on a real PostgreSQL: one message per order and kind, newest first."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from notifications import domain
from notifications.domain import Kind, Notification
from notifications.handlers import notify_cancellation, notify_confirmation
from notifications.store import NotificationStore
from warren.db import Database

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


async def listed(
    database: Database,
    *,
    order_id: uuid.UUID | None = None,
    customer_id: str | None = None,
    limit: int = 50,
) -> list[Notification]:
    async with database.pool.acquire() as conn:
        store = NotificationStore(conn)
        return await store.list(order_id=order_id, customer_id=customer_id, limit=limit)


async def test_a_confirmation_is_recorded_once_when_the_event_comes_twice(
    database: Database, confirmed
) -> None:
    event = confirmed()
    for _ in range(2):
        async with database.transaction() as conn:
            assert await notify_confirmation(event, NotificationStore(conn)) == []

    [sent] = await listed(database, order_id=event.order_id)
    assert sent.kind is Kind.ORDER_CONFIRMED
    assert (sent.customer_id, sent.channel) == ("alice", "email")
    assert "29.99 EUR" in sent.body
    assert sent.id == domain.notification_id(event.order_id, Kind.ORDER_CONFIRMED)


async def test_a_cancellation_is_recorded_once_when_the_event_comes_twice(
    database: Database, cancelled
) -> None:
    event = cancelled()
    for _ in range(2):
        async with database.transaction() as conn:
            assert await notify_cancellation(event, NotificationStore(conn)) == []

    [sent] = await listed(database, order_id=event.order_id)
    assert sent.kind is Kind.ORDER_CANCELLED
    assert "out of stock" in sent.body


async def test_concurrent_duplicates_send_once(database: Database, confirmed) -> None:
    event = confirmed()

    async def notify() -> None:
        async with database.transaction() as conn:
            await notify_confirmation(event, NotificationStore(conn))

    await asyncio.gather(*(notify() for _ in range(5)))
    assert len(await listed(database, order_id=event.order_id)) == 1


async def test_each_kind_is_its_own_notification(database: Database, confirmed, cancelled) -> None:
    order_id = uuid.uuid4()
    async with database.transaction() as conn:
        store = NotificationStore(conn)
        assert await store.add(domain.confirmation(confirmed(order_id=order_id), AT))
        assert await store.add(domain.cancellation(cancelled(order_id=order_id), AT))
        assert not await store.add(domain.cancellation(cancelled(order_id=order_id), AT))

    kinds = {sent.kind for sent in await listed(database, order_id=order_id)}
    assert kinds == {Kind.ORDER_CONFIRMED, Kind.ORDER_CANCELLED}


async def test_the_list_is_newest_first_and_filters_by_customer_and_limit(
    database: Database, confirmed
) -> None:
    messages = [
        domain.confirmation(confirmed(customer_id="dora"), AT + timedelta(minutes=i))
        for i in range(3)
    ]
    other = domain.confirmation(confirmed(customer_id="eve"), AT + timedelta(hours=1))
    async with database.transaction() as conn:
        for message in [*messages, other]:
            await NotificationStore(conn).add(message)

    dora = await listed(database, customer_id="dora")
    assert [sent.id for sent in dora] == [m.id for m in reversed(messages)]
    assert [sent.id for sent in await listed(database, limit=2)] == [other.id, messages[2].id]
    assert await listed(database, customer_id="dora", order_id=other.order_id) == []
    assert dora[0] == messages[2]  # what is stored is what was composed
