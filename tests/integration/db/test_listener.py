"""listen() against a real PostgreSQL: woken by a committed append only, and it survives a drop."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from warren.db import Database
from warren.db.listener import listen
from warren.db.outbox import OutboxRecord, append
from warren.testing import wait_until

QUIET = 0.3  # seconds a listener must stay asleep to count as not woken


def message() -> OutboxRecord:
    return OutboxRecord(uuid.uuid4(), "order-1", "orders.events", "order.placed.v1", b"{}")


async def is_woken(wakeups: asyncio.Event, within: float) -> bool:
    """Whether ``wakeups`` is set within ``within`` seconds."""
    try:
        await asyncio.wait_for(wakeups.wait(), within)
    except TimeoutError:
        return False
    return True


async def test_an_append_wakes_the_listener_when_it_commits_not_before(database: Database) -> None:
    async with listen(database) as wakeups:
        async with database.transaction() as conn:
            await append(conn, [message()])
            assert not await is_woken(wakeups, QUIET)

        assert await is_woken(wakeups, 5)


async def test_a_rolled_back_append_wakes_nobody(database: Database) -> None:
    async with listen(database.url) as wakeups:

        async def failing_handler() -> None:
            async with database.transaction() as conn:
                await append(conn, [message()])
                raise LookupError("the handler failed after appending")

        with pytest.raises(LookupError):
            await failing_handler()

        assert not await is_woken(wakeups, QUIET)


async def test_the_listener_reconnects_after_its_connection_is_killed(database: Database) -> None:
    async with listen(database) as wakeups:
        killed = await database.pool.fetchval(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
        )
        assert killed is True
        # A reconnection wakes the listener by itself, since notifications may have been missed.
        assert await is_woken(wakeups, 10)
        await wait_until(lambda: _is_listening(database), what="LISTEN again")
        wakeups.clear()

        async with database.transaction() as conn:
            await append(conn, [message()])

        assert await is_woken(wakeups, 5)


async def _is_listening(database: Database) -> bool:
    found = await database.pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
    )
    return bool(found)
