"""The saga deadline on real PostgreSQL: overdue open orders are cancelled through the write path
(order.cancelled in the outbox, same commit), once, even with sweepers side by side; an order a
saga reply holds is skipped and swept later; the deadline outlives the process that set it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from orders import domain
from orders.deadline import BATCH, sweep_once
from orders.main import MIGRATIONS
from orders.store import OrderStore
from shop_contracts.money import Money
from warren.db import Database, migrations_in
from warren.runtime import Writer

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEADLINE = domain.Deadline(timedelta(seconds=30))
DUE = AT + DEADLINE.after
PRICES = {"TEA-GREEN": Money(amount=1250, currency="EUR")}


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    opened = await Database.open(database_url, migrations=migrations_in(MIGRATIONS), max_size=6)
    yield opened
    await opened.close()


def writer(database: Database) -> Writer[OrderStore]:
    return Writer(database, "orders", OrderStore)


async def add(database: Database, *, reserved: bool = False) -> domain.Order:
    order, _ = domain.place(
        domain.PlaceOrder(
            order_id=uuid.uuid4(),
            customer_id="alice",
            items=(domain.Item(sku="TEA-GREEN", quantity=1),),
            currency="EUR",
            at=AT,
        ),
        PRICES,
        DEADLINE,
    )
    if reserved:
        order, _ = domain.note_reservation(order, AT)
    async with database.transaction() as conn:
        assert await OrderStore(conn).add(order)
    return order


async def status_of(database: Database, order: domain.Order) -> str:
    return str(await database.pool.fetchval("SELECT status FROM orders WHERE id = $1", order.id))


async def cancellations(database: Database) -> dict[str, dict[str, object]]:
    rows = await database.pool.fetch(
        "SELECT aggregate_id, body FROM warren_outbox WHERE routing_key = 'order.cancelled.v1'"
    )
    bodies = [orjson.loads(row["body"]) for row in rows]
    assert len({b["subject"] for b in bodies}) == len(bodies), "an order cancelled twice"
    return {body["subject"]: body["data"] for body in bodies}


async def test_open_orders_past_their_deadline_are_cancelled_deadline_exceeded(
    database: Database,
) -> None:
    pending, reserved = await add(database), await add(database, reserved=True)
    confirmed = await add(database, reserved=True)
    async with database.transaction() as conn:
        store = OrderStore(conn)
        before = await store.get_for_update(confirmed.id)
        assert before is not None
        after, _ = domain.confirm(before, uuid.uuid4(), AT)
        await store.save(before, after)
        await store.flush()

    assert await sweep_once(writer(database), DUE - timedelta(seconds=1)) == 0
    assert await cancellations(database) == {}
    store = OrderStore(database.pool)  # type: ignore[arg-type]
    assert await store.count_open_due_by(DUE - timedelta(seconds=1)) == 0
    assert await store.count_open_due_by(DUE) == 2  # what orders_past_deadline reports

    assert await sweep_once(writer(database), DUE) == 2
    assert await store.count_open_due_by(DUE) == 0

    assert await status_of(database, pending) == "cancelled"
    assert await status_of(database, reserved) == "cancelled"
    assert await status_of(database, confirmed) == "confirmed"
    cancelled = await cancellations(database)
    assert set(cancelled) == {str(pending.id), str(reserved.id)}
    assert {data["reason"] for data in cancelled.values()} == {"deadline_exceeded"}
    assert await sweep_once(writer(database), DUE + timedelta(minutes=1)) == 0


async def test_sweepers_side_by_side_cancel_each_order_exactly_once(database: Database) -> None:
    orders = [await add(database, reserved=n % 2 == 0) for n in range(3 * BATCH + 5)]

    counts = await asyncio.gather(*(sweep_once(writer(database), DUE) for _ in range(4)))

    assert sum(counts) == len(orders)
    assert set(await cancellations(database)) == {str(o.id) for o in orders}


async def test_an_order_held_by_a_saga_reply_is_skipped_then_swept(database: Database) -> None:
    held, free = await add(database, reserved=True), await add(database, reserved=True)
    async with database.transaction() as conn:
        assert await OrderStore(conn).get_for_update(held.id) is not None
        # The reply holds the row: the sweep neither waits for it nor cancels it.
        assert await asyncio.wait_for(sweep_once(writer(database), DUE), timeout=5) == 1
    assert await status_of(database, held) == "reserved"
    assert await status_of(database, free) == "cancelled"

    assert await sweep_once(writer(database), DUE) == 1
    assert await status_of(database, held) == "cancelled"


async def test_the_deadline_outlives_the_process_that_set_it(database_url: str) -> None:
    first = await Database.open(database_url, migrations=migrations_in(MIGRATIONS))
    order = await add(first)
    await first.close()  # orders stops before the deadline...

    restarted = await Database.open(database_url, migrations=migrations_in(MIGRATIONS))
    try:
        stored = await OrderStore(restarted.pool).get(order.id)  # type: ignore[arg-type]
        assert stored is not None
        assert stored.deadline_at == DUE
        assert await sweep_once(writer(restarted), DUE) == 1  # ...and the new one still keeps it
        assert set(await cancellations(restarted)) == {str(order.id)}
    finally:
        await restarted.close()
