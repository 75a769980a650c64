"""Idempotency keys expire on real PostgreSQL: keys older than the TTL are forgotten (in batches,
oldest first), younger ones are kept and still replay, and the orders they placed stay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from orders import keys
from orders.main import MIGRATIONS
from orders.store import OrderStore
from tests.integration.orders.test_deadline import AT, add
from warren.db import Database, migrations_in

TTL = timedelta(hours=24)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    opened = await Database.open(database_url, migrations=migrations_in(MIGRATIONS), max_size=4)
    yield opened
    await opened.close()


async def claim(database: Database, customer: str, key: str, age: timedelta) -> bool:
    """Claim ``key`` for a new order of ``customer``, made ``age`` before ``AT``; True if it was
    a fresh claim, False if the key was remembered (a replay of the order it placed)."""
    order = await add(database)
    async with database.transaction() as conn:
        held = await OrderStore(conn).claim_key(customer, key, b"fingerprint", order.id)
        fresh = held.order_id == order.id
        if fresh:
            await conn.execute(
                "UPDATE idempotency_keys SET created_at = $1 WHERE customer_id = $2 AND key = $3",
                AT - age,
                customer,
                key,
            )
    return fresh


async def remembered(database: Database) -> set[tuple[str, str]]:
    rows = await database.pool.fetch("SELECT customer_id, key FROM idempotency_keys")
    return {(row["customer_id"], row["key"]) for row in rows}


async def test_keys_older_than_the_ttl_are_forgotten_and_younger_ones_kept(
    database: Database,
) -> None:
    assert await claim(database, "alice", "old", TTL + timedelta(minutes=1))
    assert await claim(database, "bob", "old", TTL * 3)
    assert await claim(database, "alice", "recent", TTL - timedelta(minutes=1))

    assert await keys.forget_expired(database, TTL, now=AT) == 2

    assert await remembered(database) == {("alice", "recent")}
    assert await database.pool.fetchval("SELECT count(*) FROM orders") == 3  # orders stay
    assert await keys.forget_expired(database, TTL, now=AT) == 0


async def test_a_key_replays_until_it_is_forgotten_then_places_anew(database: Database) -> None:
    assert await claim(database, "alice", "k", TTL * 2)
    assert not await claim(database, "alice", "k", timedelta(0))  # remembered: a replay

    assert await keys.forget_expired(database, TTL, now=AT) == 1

    assert await claim(database, "alice", "k", timedelta(0))  # a new request now


async def test_expired_keys_are_forgotten_in_batches(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys, "BATCH", 2)
    for i in range(5):
        assert await claim(database, "carol", f"k{i}", TTL + timedelta(minutes=i + 1))

    assert await keys.forget_expired(database, TTL, now=AT) == 5
    assert await remembered(database) == set()
