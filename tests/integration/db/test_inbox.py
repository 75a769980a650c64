"""The inbox against a real PostgreSQL: new once, duplicate after, forgotten on rollback."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from warren.db import Database
from warren.db.inbox import purge, record


async def test_first_delivery_is_new_and_a_redelivery_is_a_duplicate(database: Database) -> None:
    async with database.transaction() as conn:
        assert await record(conn, "inventory.orders", "m-1") is True
    async with database.transaction() as conn:
        assert await record(conn, "inventory.orders", "m-1") is False


async def test_consumers_keep_separate_records(database: Database) -> None:
    async with database.transaction() as conn:
        assert await record(conn, "inventory.orders", "m-1") is True
        assert await record(conn, "notifications.orders", "m-1") is True


async def test_a_rolled_back_handler_forgets_the_message(database: Database) -> None:
    async def failing_handler() -> None:
        async with database.transaction() as conn:
            assert await record(conn, "payments.stock", "m-1") is True
            raise ConnectionError("the payment provider is down")

    with pytest.raises(ConnectionError):
        await failing_handler()

    async with database.transaction() as conn:
        assert await record(conn, "payments.stock", "m-1") is True


async def test_a_concurrent_duplicate_waits_for_the_first_and_is_refused(
    database: Database,
) -> None:
    async with database.transaction() as first:
        assert await record(first, "payments.stock", "m-1") is True

        async def redeliver() -> bool:
            async with database.transaction() as second:
                return await record(second, "payments.stock", "m-1")

        duplicate = asyncio.create_task(redeliver())
        done, _ = await asyncio.wait([duplicate], timeout=0.3)
        assert not done, "the duplicate must wait for the first delivery's transaction"

    assert await duplicate is False


async def test_record_refuses_to_run_outside_a_transaction(database: Database) -> None:
    async with database.pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="transaction"):
            await record(conn, "payments.stock", "m-1")


async def test_purge_forgets_only_old_messages(database: Database) -> None:
    async with database.transaction() as conn:
        await record(conn, "orders.stock", "old")
        await record(conn, "orders.stock", "new")
        await conn.execute(
            "UPDATE warren_inbox SET received_at = now() - interval '8 days' "
            "WHERE message_id = 'old'"
        )

    async with database.transaction() as conn:
        assert await purge(conn, timedelta(days=7)) == 1
        assert await record(conn, "orders.stock", "old") is True
        assert await record(conn, "orders.stock", "new") is False
