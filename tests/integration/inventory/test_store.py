"""Inventory's handlers and store on real PostgreSQL: hold, reject, release, seed, never oversell.

Each handler runs on a store inside its own transaction, as the runtime runs it; the concurrency
tests run hundreds of them at once on a pool to show row locks, not luck, keep stock consistent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from inventory.domain import Reservation, Status, StockLevel
from inventory.handlers import release_stock, reserve_stock
from inventory.main import MIGRATIONS, seed_stock
from inventory.store import StockStore
from shop_contracts.money import Money
from shop_contracts.orders import OrderCancelled, OrderLine, OrderPlaced
from shop_contracts.stock import Shortage, StockLine, StockRejected, StockReleased, StockReserved
from warren.contracts.event import Event
from warren.db import Database, migrations_in
from warren.runtime import Step, Writer

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """This test's fresh database with inventory's schema, on a warm pool of 20 connections.

    Warm, so concurrent steps start together instead of waiting for connections one by one.
    """
    opened = await Database.open(
        database_url, migrations=migrations_in(MIGRATIONS), min_size=20, max_size=20
    )
    yield opened
    await opened.close()


def placed(*lines: tuple[str, int], order_id: uuid.UUID | None = None) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id or uuid.uuid4(),
        customer_id="c-1",
        lines=tuple(OrderLine(sku=sku, quantity=n, unit_price=250) for sku, n in lines),
        total=Money(amount=250 * sum(n for _, n in lines), currency="EUR"),
        placed_at=AT,
    )


def cancelled(order_id: uuid.UUID) -> OrderCancelled:
    return OrderCancelled(
        order_id=order_id, customer_id="c-1", reason="payment_declined", cancelled_at=AT
    )


async def run(database: Database, step: Step[StockStore], subject: Any) -> Sequence[Event]:
    """``step`` in its own transaction, as the runtime runs a handler."""
    async with database.transaction() as conn:
        return await step(subject, StockStore(conn))


async def stock(database: Database, **levels: int) -> None:
    async with database.transaction() as conn:
        await StockStore(conn).save_levels(levels)


async def levels(database: Database) -> dict[str, int]:
    rows = await database.pool.fetch("SELECT sku, available FROM stock ORDER BY sku")
    return {row["sku"]: row["available"] for row in rows}


async def reservation(database: Database, order_id: uuid.UUID) -> Reservation | None:
    async with database.pool.acquire() as conn:
        return await StockStore(conn).get_reservation(order_id)


async def status_of(database: Database, order_id: uuid.UUID) -> Status | None:
    found = await reservation(database, order_id)
    return None if found is None else found.status


async def test_an_order_in_stock_is_held_and_its_units_taken(database: Database) -> None:
    await stock(database, TEA=10, MUG=3)
    order = placed(("TEA", 2), ("MUG", 3), ("TEA", 1))

    events = await run(database, reserve_stock, order)

    [reserved] = events
    assert isinstance(reserved, StockReserved)
    assert (reserved.order_id, reserved.amount) == (order.order_id, order.total)
    assert reserved.lines == tuple(StockLine(sku=x.sku, quantity=x.quantity) for x in order.lines)
    assert await levels(database) == {"MUG": 0, "TEA": 7}
    held = await reservation(database, order.order_id)
    assert held == Reservation(order.order_id, Status.HELD, reserved.lines)


async def test_a_short_order_holds_nothing_and_stays_rejected(database: Database) -> None:
    await stock(database, TEA=10, MUG=1)
    order = placed(("TEA", 2), ("MUG", 2), ("GHOST", 1))

    [rejected] = await run(database, reserve_stock, order)

    assert isinstance(rejected, StockRejected)
    assert rejected.order_id == order.order_id
    assert rejected.shortages == (
        Shortage(sku="GHOST", requested=1, available=0),
        Shortage(sku="MUG", requested=2, available=1),
    )
    assert await levels(database) == {"MUG": 1, "TEA": 10}
    assert await status_of(database, order.order_id) is Status.REJECTED
    # Restocked since: a redelivery still answers what it answered, it does not start holding.
    await stock(database, MUG=50, GHOST=50)
    assert await run(database, reserve_stock, order) == []
    assert await levels(database) == {"GHOST": 50, "MUG": 50, "TEA": 10}


async def test_an_order_already_held_is_not_held_again(database: Database) -> None:
    await stock(database, TEA=10)
    order = placed(("TEA", 4))

    assert len(await run(database, reserve_stock, order)) == 1
    assert await run(database, reserve_stock, order) == []
    assert await levels(database) == {"TEA": 6}


async def test_cancelling_a_held_order_puts_its_units_back_once(database: Database) -> None:
    await stock(database, TEA=10, MUG=2)
    order = placed(("TEA", 4), ("MUG", 2))
    await run(database, reserve_stock, order)

    first = await run(database, release_stock, cancelled(order.order_id))
    second = await run(database, release_stock, cancelled(order.order_id))

    [released] = first
    assert isinstance(released, StockReleased)
    assert released.order_id == order.order_id
    assert {line.sku: line.quantity for line in released.lines} == {"TEA": 4, "MUG": 2}
    assert second == []
    assert await levels(database) == {"MUG": 2, "TEA": 10}
    assert await status_of(database, order.order_id) is Status.RELEASED


async def test_cancelling_a_rejected_or_unknown_order_releases_nothing(database: Database) -> None:
    await stock(database, TEA=1)
    rejected = placed(("TEA", 5))
    await run(database, reserve_stock, rejected)

    assert await run(database, release_stock, cancelled(rejected.order_id)) == []
    assert await run(database, release_stock, cancelled(uuid.uuid4())) == []
    assert await levels(database) == {"TEA": 1}
    assert await status_of(database, rejected.order_id) is Status.REJECTED


async def test_stock_can_never_be_negative_in_the_database(database: Database) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await stock(database, TEA=-1)


async def test_reserved_counts_only_held_units(database: Database) -> None:
    await stock(database, TEA=20, MUG=5, POT=1)
    held = placed(("TEA", 2), ("MUG", 1), ("TEA", 3))
    released = placed(("TEA", 4))
    rejected = placed(("TEA", 1), ("POT", 2))
    for order in (held, released, rejected):
        await run(database, reserve_stock, order)
    await run(database, release_stock, cancelled(released.order_id))

    async with database.pool.acquire() as conn:
        store = StockStore(conn)
        assert await store.get_level("TEA") == StockLevel("TEA", 15, 5)
        assert await store.get_level("NOPE") is None
        assert await store.list_levels(limit=10) == [
            StockLevel("MUG", 4, 1),
            StockLevel("POT", 1, 0),
            StockLevel("TEA", 15, 5),
        ]
        assert await store.list_levels(limit=1) == [StockLevel("MUG", 4, 1)]


async def test_200_concurrent_orders_for_50_units_hold_exactly_50(database: Database) -> None:
    await stock(database, TEA=50)
    orders = [placed(("TEA", 1)) for _ in range(200)]

    answers = await asyncio.gather(*(run(database, reserve_stock, o) for o in orders))

    kinds = [type(event) for [event] in answers]
    assert kinds.count(StockReserved) == 50
    assert kinds.count(StockRejected) == 150
    assert await levels(database) == {"TEA": 0}
    async with database.pool.acquire() as conn:
        assert await StockStore(conn).get_level("TEA") == StockLevel("TEA", 0, 50)

    releases = await asyncio.gather(
        *(run(database, release_stock, cancelled(o.order_id)) for o in orders)
    )

    assert sum(len(events) for events in releases) == 50
    assert all(isinstance(e, StockReleased) for events in releases for e in events)
    assert await levels(database) == {"TEA": 50}


async def test_orders_locking_skus_in_opposite_orders_do_not_deadlock(database: Database) -> None:
    await stock(database, TEA=1000, MUG=1000, POT=1000)
    lines = [("TEA", 1), ("MUG", 1), ("POT", 1)]
    orders = [placed(*(lines if i % 2 else lines[::-1])) for i in range(100)]

    answers = await asyncio.gather(*(run(database, reserve_stock, o) for o in orders))
    await asyncio.gather(*(run(database, release_stock, cancelled(o.order_id)) for o in orders))

    assert all(isinstance(event, StockReserved) for [event] in answers)
    assert await levels(database) == {"MUG": 1000, "POT": 1000, "TEA": 1000}


async def test_the_same_order_reserved_twice_at_once_is_held_once(database: Database) -> None:
    # The same order.placed under several message ids (so the inbox cannot tell them apart),
    # handled at the same moment: they queue on the SKU's row lock and the later ones see the
    # first one's answer, without an error.
    await stock(database, TEA=10)
    order = placed(("TEA", 3))

    answers = await asyncio.gather(*(run(database, reserve_stock, order) for _ in range(20)))

    assert sorted(len(events) for events in answers) == [0] * 19 + [1]
    assert await levels(database) == {"TEA": 7}


async def test_twins_of_an_order_of_unknown_skus_answer_once(database: Database) -> None:
    # No stocked row to queue on: the reservation's primary key decides, the loser rolls back.
    order = placed(("GHOST", 1))

    outcomes = await asyncio.gather(
        *(run(database, reserve_stock, order) for _ in range(20)), return_exceptions=True
    )

    answered = [o for o in outcomes if not isinstance(o, BaseException) and o]
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(answered) == 1
    assert all(isinstance(f, asyncpg.UniqueViolationError) for f in failed)
    assert await run(database, reserve_stock, order) == []
    assert await status_of(database, order.order_id) is Status.REJECTED


async def test_seeding_stocks_missing_skus_only(database: Database) -> None:
    await stock(database, TEA=3)
    writer = Writer(database, "inventory", StockStore)

    await writer.execute(seed_stock, {"TEA": 100, "MUG": 25})
    await writer.execute(seed_stock, {"TEA": 100, "MUG": 99, "POT": 5})

    assert await levels(database) == {"MUG": 25, "POT": 5, "TEA": 3}
