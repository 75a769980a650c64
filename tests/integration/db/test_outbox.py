"""The outbox against a real PostgreSQL: append, claim per aggregate, mark sent, lag, retention."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from warren.db import Database
from warren.db.listener import listen
from warren.db.outbox import (
    OutboxRecord,
    OutboxRow,
    append,
    claim,
    defer,
    mark_sent,
    pending,
    purge_sent,
    release,
)


def message(aggregate: str, n: int) -> OutboxRecord:
    """Message ``n`` of ``aggregate``; its routing key says which, for readable assertions."""
    return OutboxRecord(
        id=uuid.uuid4(),
        aggregate_id=aggregate,
        exchange="orders.events",
        routing_key=f"{aggregate}{n}",
        body=f'{{"n": {n}}}'.encode(),
    )


def keys(rows: list[OutboxRow]) -> list[str]:
    return [row.routing_key for row in rows]


async def append_committed(database: Database, *records: OutboxRecord) -> None:
    async with database.transaction() as conn:
        await append(conn, records)


async def test_a_claimed_row_carries_what_was_appended(database: Database) -> None:
    appended = OutboxRecord(
        id=uuid.uuid4(),
        aggregate_id="order-1",
        exchange="orders.events",
        routing_key="order.placed.v1",
        body=b"\x00binary\xffbody",
        headers={"traceparent": "00-abc-def-01", "x-attempts": 0},
        properties={"message_id": "m-1", "type": "order.placed.v1", "timestamp": 1700000000},
    )
    await append_committed(database, appended)

    async with database.transaction() as conn:
        [row] = await claim(conn, 10)

    assert OutboxRecord(
        row.id, row.aggregate_id, row.exchange, row.routing_key, row.body, row.headers,
        row.properties,
    ) == appended  # fmt: skip
    assert row.seq > 0
    assert row.created_at.tzinfo is not None


async def test_claim_takes_only_the_earliest_unsent_row_of_each_aggregate(
    database: Database,
) -> None:
    await append_committed(
        database, message("A", 1), message("B", 1), message("A", 2), message("A", 3)
    )
    await append_committed(database, message("B", 2))

    async with database.transaction() as conn:
        first = await claim(conn, 10)
        await mark_sent(conn, [row.id for row in first])
    async with database.transaction() as conn:
        second = await claim(conn, 10)
        await mark_sent(conn, [row.id for row in second])
    async with database.transaction() as conn:
        third = await claim(conn, 10)
        await mark_sent(conn, [row.id for row in third])
    async with database.transaction() as conn:
        fourth = await claim(conn, 10)

    assert (keys(first), keys(second), keys(third), fourth) == (
        ["A1", "B1"],
        ["A2", "B2"],
        ["A3"],
        [],
    )
    # Whether a row has a later unsent one of its aggregate waiting behind it:
    assert [row.followed for row in (*first, *second, *third)] == [True, True, True, False, False]


async def test_claim_respects_the_limit(database: Database) -> None:
    await append_committed(database, *(message(f"agg{i}-", 1) for i in range(5)))

    async with database.transaction() as conn:
        assert len(await claim(conn, 3)) == 3


async def test_a_concurrent_relay_gets_nothing_of_the_aggregates_another_holds(
    database: Database,
) -> None:
    await append_committed(database, *[message("A", n) for n in (1, 2, 3)])
    await append_committed(database, *[message("B", n) for n in (1, 2)])

    async with database.transaction() as second:
        async with database.transaction() as first:
            held = await claim(first, 10)
            assert keys(held) == ["A1", "B1"]
            # A1 and B1 are locked, and A2 and B2 must wait for them: nothing is left.
            assert await claim(second, 10) == []
            await mark_sent(first, [row.id for row in held])
        # The first relay committed A1 and B1 as sent: their successors are next.
        assert keys(await claim(second, 10)) == ["A2", "B2"]


async def test_a_concurrent_relay_takes_other_aggregates_meanwhile(database: Database) -> None:
    await append_committed(database, *[message("A", n) for n in (1, 2, 3)])
    await append_committed(database, *[message("B", n) for n in (1, 2)])

    async with database.transaction() as second:
        async with database.transaction() as first:
            held = await claim(first, 1)
            assert keys(held) == ["A1"]
            # A1 is locked by the first relay and A2 waits for it: B1 is the only row left.
            assert keys(await claim(second, 10)) == ["B1"]
            await mark_sent(first, [row.id for row in held])
        async with database.transaction() as third:
            # A1 is sent, so A2 is free; B1 is still held, so B2 still waits.
            assert keys(await claim(third, 10)) == ["A2"]


async def test_a_rolled_back_claim_returns_the_rows(database: Database) -> None:
    await append_committed(database, message("A", 1))

    async def failing_relay() -> None:
        async with database.transaction() as conn:
            assert keys(await claim(conn, 10)) == ["A1"]
            raise ConnectionError("the broker went away before confirming")

    with pytest.raises(ConnectionError):
        await failing_relay()

    async with database.transaction() as conn:
        assert keys(await claim(conn, 10)) == ["A1"]


async def test_racing_relays_publish_every_row_once_and_in_aggregate_order(
    database: Database,
) -> None:
    aggregates, per_aggregate = 6, 15
    for n in range(1, per_aggregate + 1):
        await append_committed(database, *(message(f"agg{a}-", n) for a in range(aggregates)))
    published: list[OutboxRow] = []

    async def relay() -> None:
        while True:
            async with database.transaction() as conn:
                rows = await claim(conn, 4)
                published.extend(rows)  # "publish" in claim order
                await asyncio.sleep(0)  # let the other relays interleave
                await mark_sent(conn, [row.id for row in rows])
            if not rows:
                async with database.pool.acquire() as conn:
                    waiting, _ = await pending(conn)
                if not waiting:
                    return

    await asyncio.wait_for(asyncio.gather(*(relay() for _ in range(4))), timeout=60)

    assert len(published) == aggregates * per_aggregate
    assert len({row.id for row in published}) == len(published)
    for a in range(aggregates):
        seqs = [row.seq for row in published if row.aggregate_id == f"agg{a}-"]
        assert seqs == sorted(seqs)


async def test_a_deferred_row_holds_back_its_own_aggregate_only_until_it_is_due(
    database: Database,
) -> None:
    await append_committed(database, message("A", 1), message("B", 1), message("A", 2))
    await append_committed(database, message("B", 2))

    async with database.transaction() as conn:
        first = await claim(conn, 10)
        assert keys(first) == ["A1", "B1"]
        [a1] = [row for row in first if row.routing_key == "A1"]
        await mark_sent(conn, [row.id for row in first if row is not a1])
        due_in = await defer(conn, [(a1.id, "refused")], first_delay=0.5, max_delay=10)
    assert due_in is not None
    assert 0 < due_in <= 0.5

    async with database.transaction() as conn:
        # A1 backs off and A2 stays behind it; B is not held up at all.
        assert keys(await claim(conn, 10)) == ["B2"]
    await database.pool.execute(
        "UPDATE warren_outbox SET next_attempt_at = now() - interval '1 ms' WHERE id = $1", a1.id
    )  # as if its delay were over
    async with database.transaction() as conn:
        # B2 was not marked sent, so it is B's head still; A1 is due again, with its record.
        due = await claim(conn, 10)
    assert keys(due) == ["A1", "B2"]
    assert due[0].attempts == 1


async def test_the_backoff_doubles_per_failure_up_to_its_cap(database: Database) -> None:
    row = message("A", 1)
    await append_committed(database, row)
    delays = []
    for _ in range(5):
        async with database.transaction() as conn:
            delay = await defer(conn, [(row.id, "refused")], first_delay=1, max_delay=5)
            assert delay is not None
            delays.append(round(delay))
    state = await database.pool.fetchrow(
        "SELECT attempts, last_error FROM warren_outbox WHERE id = $1", row.id
    )

    assert delays == [1, 2, 4, 5, 5]
    assert (state["attempts"], state["last_error"]) == (5, "refused")


async def test_deferring_nothing_is_allowed(database: Database) -> None:
    async with database.transaction() as conn:
        assert await defer(conn, []) is None


async def test_claim_refuses_to_run_outside_a_transaction(database: Database) -> None:
    async with database.pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="transaction"):
            await claim(conn, 10)


async def test_appending_nothing_is_allowed(database: Database) -> None:
    await append_committed(database)

    async with database.pool.acquire() as conn:
        assert await pending(conn) == (0, 0.0)


async def test_pending_counts_unsent_rows_and_ages_the_oldest(database: Database) -> None:
    sent, old, fresh = message("A", 1), message("B", 1), message("C", 1)
    await append_committed(database, sent, old, fresh)
    async with database.transaction() as conn:
        await mark_sent(conn, [sent.id])
        await conn.execute(
            "UPDATE warren_outbox SET created_at = created_at - interval '90 seconds' "
            "WHERE id = $1 OR id = $2",
            sent.id,
            old.id,
        )

    async with database.pool.acquire() as conn:
        waiting, age = await pending(conn)

    assert waiting == 2
    assert 90 <= age < 120


async def test_purge_sent_deletes_only_rows_sent_long_ago(database: Database) -> None:
    long_ago, recently, unsent = message("A", 1), message("B", 1), message("C", 1)
    await append_committed(database, long_ago, recently, unsent)
    async with database.transaction() as conn:
        await mark_sent(conn, [long_ago.id, recently.id])
        await conn.execute(
            "UPDATE warren_outbox SET sent_at = now() - interval '3 days' WHERE id = $1",
            long_ago.id,
        )

    async with database.transaction() as conn:
        assert await purge_sent(conn, timedelta(days=2)) == 1
        left = await conn.fetch("SELECT id FROM warren_outbox ORDER BY seq")

    assert [row["id"] for row in left] == [recently.id, unsent.id]


async def reserve_committed(
    database: Database, *records: OutboxRecord, seconds: float = 30.0
) -> list[str]:
    """Append with a reservation and commit; the routing keys of the rows reserved."""
    async with database.transaction() as conn:
        reserved = await append(conn, records, reserve_for=seconds)
    return [record.routing_key for record in reserved]


async def test_append_reserves_the_head_of_each_aggregate_for_the_writer(
    database: Database,
) -> None:
    await append_committed(database, message("C", 1))  # C has an unsent row already

    reserved = await reserve_committed(
        database, message("A", 1), message("A", 2), message("B", 1), message("C", 2)
    )

    assert reserved == ["A1", "B1"]  # A2 follows A1; C2 follows the unsent C1
    async with database.transaction() as conn:
        claimable = keys(await claim(conn, 10))
    assert claimable == ["C1"]  # relays leave reserved rows, and what waits behind them, alone


async def test_a_sent_head_makes_its_aggregate_reservable_again(database: Database) -> None:
    assert await reserve_committed(database, message("A", 1)) == ["A1"]
    assert await reserve_committed(database, message("A", 2)) == []  # A1 is still unsent

    async with database.transaction() as conn:
        [first] = await conn.fetch("SELECT id FROM warren_outbox WHERE routing_key = 'A1'")
        followed = await mark_sent(conn, [first["id"]])

    assert followed is True  # A2 waits behind A1 and no NOTIFY said so: wake the relays
    async with database.transaction() as conn:
        assert keys(await claim(conn, 10)) == ["A2"]
        assert await mark_sent(conn, []) is False
    assert await reserve_committed(database, message("B", 1)) == ["B1"]


async def test_a_lapsed_or_released_reservation_goes_to_the_relays(database: Database) -> None:
    await reserve_committed(database, message("A", 1), seconds=0.2)
    reserved = await reserve_committed(database, message("B", 1))
    async with database.transaction() as conn:
        assert await claim(conn, 10) == []

    await asyncio.sleep(0.3)
    async with database.pool.acquire() as conn:
        await release(conn, [uuid.UUID(int=0)])  # an unknown id changes nothing
        [b1] = await conn.fetch("SELECT id FROM warren_outbox WHERE routing_key = 'B1'")
        await release(conn, [b1["id"]])

    assert reserved == ["B1"]
    async with database.transaction() as conn:
        assert sorted(keys(await claim(conn, 10))) == ["A1", "B1"]


async def test_only_rows_left_to_the_relays_notify_them(database: Database) -> None:
    async with listen(database) as wakeups:
        wakeups.clear()
        await reserve_committed(database, message("A", 1))
        await asyncio.sleep(0.3)  # a NOTIFY would have arrived by now
        assert not wakeups.is_set()

        await reserve_committed(database, message("A", 2))  # behind A1: the relays' row
        await asyncio.wait_for(wakeups.wait(), 5)
