"""Group commit on real PostgreSQL: deliveries that wait together commit in one transaction, and
each keeps its guarantees — a duplicate is skipped, a step that raises fails alone with its own
error and changes nothing, the others commit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from tests.integration.runtime.conftest import delivery
from warren import db
from warren.contracts.event import Event
from warren.messaging import PermanentError
from warren.runtime import Writer

PLACED = REGISTRY.resolve("order.placed.v1")
CONFIRMED = REGISTRY.resolve("order.confirmed.v1")
SEEN = db.Migration("seen.0001", "CREATE TABLE seen (order_id uuid NOT NULL, txid bigint NOT NULL)")
CONSUMER = "inventory.reservations"
DOOMED = uuid.UUID(int=666)


class Seen:
    def __init__(self, conn: db.Connection) -> None:
        self.conn = conn

    async def add(self, order_id: uuid.UUID) -> None:
        await self.conn.execute(
            "INSERT INTO seen (order_id, txid) VALUES ($1, txid_current())", order_id
        )


async def see_and_confirm(event: Event, store: Seen) -> Sequence[Event]:
    order_id = event.order_id  # type: ignore[attr-defined]
    await store.add(order_id)
    if order_id == DOOMED:
        raise PermanentError("this order is doomed")
    return [example(CONFIRMED, order_id)]


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[db.Database]:
    opened = await db.Database.open(database_url, migrations=[SEEN])
    yield opened
    await opened.close()


async def consume_all(
    writer: Writer[Seen], orders: Sequence[uuid.UUID], message_ids: Sequence[str] | None = None
) -> list[BaseException | None]:
    """Every order's delivery at once, as a consumer with enough prefetch would hand them over."""
    ids = message_ids or [str(uuid.uuid4()) for _ in orders]
    return await asyncio.gather(
        *(
            writer.consume(see_and_confirm, CONSUMER, example(PLACED, order), delivery(mid))
            for order, mid in zip(orders, ids, strict=True)
        ),
        return_exceptions=True,
    )


async def test_deliveries_that_wait_together_commit_together(database: db.Database) -> None:
    writer = Writer(database, "inventory", Seen, group_size=16)
    orders = [uuid.uuid4() for _ in range(40)]

    outcomes = await consume_all(writer, orders)

    assert outcomes == [None] * 40
    pool = database.pool
    assert await pool.fetchval("SELECT count(DISTINCT order_id) FROM seen") == 40
    assert await pool.fetchval("SELECT count(*) FROM warren_inbox") == 40
    assert await pool.fetchval("SELECT count(*) FROM warren_outbox") == 40
    transactions = await pool.fetchval("SELECT count(DISTINCT txid) FROM seen")
    assert transactions < 40  # some deliveries shared a transaction
    assert writer.groups >= 1
    largest = await pool.fetchval(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM seen GROUP BY txid) t"
    )
    assert 1 < largest <= 16


async def test_a_step_that_raises_fails_alone_and_the_rest_commit(database: db.Database) -> None:
    writer = Writer(database, "inventory", Seen, group_size=16)
    orders = [uuid.uuid4() for _ in range(10)]
    orders[4] = DOOMED

    outcomes = await consume_all(writer, orders)

    assert [type(o).__name__ for o in outcomes].count("PermanentError") == 1
    assert isinstance(outcomes[4], PermanentError)
    assert all(o is None for i, o in enumerate(outcomes) if i != 4)
    pool = database.pool
    seen = {row["order_id"] for row in await pool.fetch("SELECT order_id FROM seen")}
    assert seen == set(orders) - {DOOMED}  # its effects rolled back, the others' kept
    assert await pool.fetchval("SELECT count(*) FROM warren_inbox") == 9  # it may be retried
    assert await pool.fetchval("SELECT count(*) FROM warren_outbox") == 9


async def test_a_duplicate_in_a_group_changes_nothing(database: db.Database) -> None:
    writer = Writer(database, "inventory", Seen, group_size=16)
    first = uuid.uuid4()
    again = str(uuid.uuid4())
    await consume_all(writer, [first], [again])  # handled once already
    orders = [uuid.uuid4() for _ in range(8)]
    twice = str(uuid.uuid4())
    ids = [again, twice, twice, *(str(uuid.uuid4()) for _ in range(5))]

    outcomes = await consume_all(writer, [first, orders[1], orders[1], *orders[3:8]], ids)

    assert outcomes == [None] * 8  # duplicates are acknowledged
    pool = database.pool
    assert await pool.fetchval("SELECT count(*) FROM seen WHERE order_id = $1", first) == 1
    assert await pool.fetchval("SELECT count(*) FROM seen WHERE order_id = $1", orders[1]) == 1
    assert await pool.fetchval("SELECT count(*) FROM warren_inbox") == 7


async def test_without_grouping_every_delivery_has_its_own_transaction(
    database: db.Database,
) -> None:
    writer = Writer(database, "inventory", Seen, group_size=1)

    await consume_all(writer, [uuid.uuid4() for _ in range(20)])

    pool = database.pool
    assert await pool.fetchval("SELECT count(DISTINCT txid) FROM seen") == 20
    assert writer.groups == 0


class Buffered(Seen):
    """A store that buffers its writes until ``flush`` (as the orders store does)."""

    instances: list[Buffered] = []

    def __init__(self, conn: db.Connection) -> None:
        super().__init__(conn)
        self.pending: list[uuid.UUID] = []
        self.flushes = 0
        Buffered.instances.append(self)

    async def add(self, order_id: uuid.UUID) -> None:
        self.pending.append(order_id)

    async def flush(self) -> None:
        self.flushes += 1
        await self.conn.execute(
            "INSERT INTO seen (order_id, txid) SELECT unnest($1::uuid[]), txid_current()",
            self.pending,
        )
        self.pending = []


async def test_a_group_shares_one_store_and_flushes_it_once_before_commit(
    database: db.Database,
) -> None:
    Buffered.instances = []
    writer = Writer(database, "inventory", Buffered, group_size=16)
    orders = [uuid.uuid4() for _ in range(40)]

    outcomes = await consume_all(writer, orders)  # type: ignore[arg-type]

    assert outcomes == [None] * 40
    pool = database.pool
    assert await pool.fetchval("SELECT count(DISTINCT order_id) FROM seen") == 40
    transactions = await pool.fetchval("SELECT count(DISTINCT txid) FROM seen")
    assert len(Buffered.instances) == transactions  # one store per transaction, not per step
    assert all(store.flushes == 1 for store in Buffered.instances)
    assert writer.groups >= 1
