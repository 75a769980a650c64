"""The orders store on real PostgreSQL: an order and its history written and read back whole,
one statement per write, a locked read that sees what the previous lock holder appended, and the
known prices, where a late announcement never rolls a price back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from orders import domain
from orders.domain import Order, Status
from orders.main import MIGRATIONS
from orders.store import OrderStore
from shop_contracts.money import Money
from shop_contracts.orders import OrderLine
from warren.db import Database, migrations_in

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    opened = await Database.open(database_url, migrations=migrations_in(MIGRATIONS), max_size=4)
    yield opened
    await opened.close()


def placed(order_id: uuid.UUID | None = None) -> Order:
    order, _ = domain.place(
        domain.PlaceOrder(
            order_id=order_id or uuid.uuid4(),
            customer_id="c-1",
            items=(domain.Item(sku="SKU-1", quantity=2),),
            currency="EUR",
            at=AT,
            trace_id="0af7651916cd43dd8448eb211c80319c",
        ),
        {"SKU-1": Money(amount=250, currency="EUR")},
        domain.Deadline(timedelta(minutes=15)),
    )
    assert order.lines == (OrderLine(sku="SKU-1", quantity=2, unit_price=250),)
    return order


async def test_an_added_order_reads_back_whole(database: Database) -> None:
    order = placed()
    async with database.transaction() as conn:
        assert await OrderStore(conn).add(order)

    assert await OrderStore(database.pool).get(order.id) == order  # type: ignore[arg-type]


async def test_adding_the_same_order_again_changes_nothing(database: Database) -> None:
    order = placed()
    async with database.transaction() as conn:
        assert await OrderStore(conn).add(order)
    async with database.transaction() as conn:
        assert not await OrderStore(conn).add(order)

    lines = await database.pool.fetchval(
        "SELECT count(*) FROM order_history WHERE order_id = $1", order.id
    )
    assert lines == 1


async def test_unknown_orders_are_none(database: Database) -> None:
    store = OrderStore(database.pool)  # type: ignore[arg-type]
    assert await store.get(uuid.uuid4()) is None
    async with database.transaction() as conn:
        assert await OrderStore(conn).get_for_update(uuid.uuid4()) is None


async def test_saved_moves_append_history_in_order(database: Database) -> None:
    order = placed()
    async with database.transaction() as conn:
        await OrderStore(conn).add(order)
    for at, decide in (
        (AT + timedelta(seconds=1), lambda o, at: domain.note_reservation(o, at)),
        (AT + timedelta(seconds=2), lambda o, at: domain.confirm(o, uuid.uuid4(), at)),
    ):
        async with database.transaction() as conn:
            store = OrderStore(conn)
            before = await store.get_for_update(order.id)
            assert before is not None
            after, _ = decide(before, at)
            await store.save(before, after)
            await store.flush()

    found = await OrderStore(database.pool).get(order.id)  # type: ignore[arg-type]
    assert found is not None
    assert found.status is Status.CONFIRMED
    assert [(s.status, s.at) for s in found.history] == [
        (Status.PENDING, AT),
        (Status.RESERVED, AT + timedelta(seconds=1)),
        (Status.CONFIRMED, AT + timedelta(seconds=2)),
    ]


async def test_moves_are_buffered_until_flush_and_read_back_in_the_transaction(
    database: Database,
) -> None:
    """A group's replies share one store: the second move of an order decides on the first
    (read back from the buffer), and one flush writes every order's moves."""
    one, other = placed(), placed()
    async with database.transaction() as conn:
        for order in (one, other):
            await OrderStore(conn).add(order)

    async with database.transaction() as conn:
        store = OrderStore(conn)
        for order in (one, other):
            before = await store.get_for_update(order.id)
            assert before is not None
            after, _ = domain.note_reservation(before, AT + timedelta(seconds=1))
            await store.save(before, after)
        again = await store.get_for_update(one.id)
        assert again is not None
        assert again.status is Status.RESERVED  # from the buffer
        after, _ = domain.confirm(again, uuid.uuid4(), AT + timedelta(seconds=2))
        await store.save(again, after)
        unflushed = await OrderStore(conn).get(one.id)  # this transaction's own view
        assert unflushed is not None
        assert unflushed.status is Status.PENDING  # nothing written before the flush
        await store.flush()

    found = {
        o.id: o for o in [await OrderStore(database.pool).get(i) for i in (one.id, other.id)] if o
    }  # type: ignore[arg-type]
    assert [s.status for s in found[one.id].history] == [
        Status.PENDING,
        Status.RESERVED,
        Status.CONFIRMED,
    ]
    assert found[one.id].status is Status.CONFIRMED
    assert [s.status for s in found[other.id].history] == [Status.PENDING, Status.RESERVED]
    assert found[other.id].status is Status.RESERVED


async def test_a_locked_read_sees_what_the_previous_holder_appended(database: Database) -> None:
    """Two replies for one order at once: the second waits for the lock, then decides on the
    history as the first committed it, and its own line follows (no clash of line numbers)."""
    order = placed()
    async with database.transaction() as conn:
        await OrderStore(conn).add(order)
    first_holds_lock = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with database.transaction() as conn:
            store = OrderStore(conn)
            before = await store.get_for_update(order.id)
            assert before is not None
            first_holds_lock.set()
            await release_first.wait()
            after, _ = domain.note_reservation(before, AT + timedelta(seconds=1))
            await store.save(before, after)
            await store.flush()

    async def second() -> Order:
        await first_holds_lock.wait()
        async with database.transaction() as conn:
            store = OrderStore(conn)
            before = await store.get_for_update(order.id)  # blocks until first commits
            assert before is not None
            after, _ = domain.confirm(before, uuid.uuid4(), AT + timedelta(seconds=2))
            await store.save(before, after)
            await store.flush()
            return before

    holder = asyncio.create_task(first())
    waiter = asyncio.create_task(second())
    await first_holds_lock.wait()
    await asyncio.sleep(0.2)  # the second is now waiting on the row lock
    assert not waiter.done()
    release_first.set()
    await holder
    seen = await waiter

    assert [s.status for s in seen.history] == [Status.PENDING, Status.RESERVED]
    found = await OrderStore(database.pool).get(order.id)  # type: ignore[arg-type]
    assert found is not None
    assert [s.status for s in found.history] == [
        Status.PENDING,
        Status.RESERVED,
        Status.CONFIRMED,
    ]


def known(sku: str, amount: int, revision: int) -> domain.KnownPrice:
    return domain.KnownPrice(sku, Money(amount=amount, currency="EUR"), revision, AT)


async def test_the_highest_revision_of_a_price_wins_whatever_the_arrival_order(
    database: Database,
) -> None:
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    for price in (known(sku, 300, 3), known(sku, 100, 1), known(sku, 300, 3), known(sku, 200, 2)):
        async with database.transaction() as conn:
            await OrderStore(conn).save_price(price)

    async with database.transaction() as conn:
        store = OrderStore(conn)
        assert await store.price_for_update(sku) == known(sku, 300, 3)
        assert await store.prices_of([sku, "NOT-PRICED"]) == {
            sku: Money(amount=300, currency="EUR")
        }
