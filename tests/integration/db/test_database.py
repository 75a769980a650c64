"""Database against a real PostgreSQL: creation if missing, transactions, readiness."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from warren.db import Database
from warren.testing import Servers


async def _database_exists(server_url: str, url: str) -> bool:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(server_url)
    try:
        found = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await admin.close()
    return bool(found)


async def test_open_creates_the_database_when_missing(
    servers: Servers, missing_database_url: str
) -> None:
    assert not await _database_exists(servers.database_url, missing_database_url)

    database = await Database.open(missing_database_url)
    try:
        assert (
            await database.pool.fetchval("SELECT current_database()")
            == (missing_database_url.rsplit("/", 1)[1])
        )
    finally:
        await database.close()

    assert await _database_exists(servers.database_url, missing_database_url)


async def test_replicas_racing_to_create_the_database_all_succeed(
    missing_database_url: str,
) -> None:
    opened = await asyncio.gather(*(Database.open(missing_database_url) for _ in range(4)))
    for database in opened:
        assert await database.is_ready()
        await database.close()


async def test_transaction_commits_on_exit(database: Database) -> None:
    await database.pool.execute("CREATE TABLE thing (n int)")

    async with database.transaction() as conn:
        await conn.execute("INSERT INTO thing VALUES (1)")

    assert await database.pool.fetchval("SELECT count(*) FROM thing") == 1


async def test_transaction_rolls_back_on_error(database: Database) -> None:
    await database.pool.execute("CREATE TABLE thing (n int)")

    async def failing_handler() -> None:
        async with database.transaction() as conn:
            await conn.execute("INSERT INTO thing VALUES (1)")
            raise LookupError("the handler failed")

    with pytest.raises(LookupError):
        await failing_handler()

    assert await database.pool.fetchval("SELECT count(*) FROM thing") == 0


async def test_release_sends_no_reset_query(database_url: str) -> None:
    """Giving a connection back costs no round trip: its last query is still the borrower's."""
    database = await Database.open(database_url, max_size=1)
    observer = await asyncpg.connect(database_url)
    try:
        async with database.pool.acquire() as conn:
            pid = conn.get_server_pid()
            await conn.fetchval("SELECT 'the last query of the borrower'")
        last = await observer.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)
    finally:
        await observer.close()
        await database.close()
    assert last == "SELECT 'the last query of the borrower'"


async def test_release_leaves_no_transaction_state_behind(database_url: str) -> None:
    """What a borrower left open is rolled back, transaction-scoped settings end with it."""
    database = await Database.open(database_url, max_size=1)
    try:
        await database.pool.execute("CREATE TABLE thing (n int)")
        async with database.transaction() as conn:
            await conn.execute("SET LOCAL statement_timeout = '4321ms'")
        async with database.pool.acquire() as conn:
            abandoned = conn.transaction()
            await abandoned.start()
            await conn.execute("INSERT INTO thing VALUES (1)")  # never committed

        async with database.pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM thing") == 0
            assert await conn.fetchval("SHOW statement_timeout") != "4321ms"
    finally:
        await database.close()


async def test_is_ready_until_closed(database_url: str) -> None:
    database = await Database.open(database_url)
    assert await database.is_ready() is True

    await database.close()

    assert await database.is_ready() is False


async def test_open_refuses_an_unreachable_server() -> None:
    with pytest.raises(ConnectionRefusedError):
        await Database.open("postgresql://postgres@127.0.0.1:1/nowhere")


async def test_pooled_sessions_reuse_generic_plans(database: Database) -> None:
    """Prepared statements are planned once per session, not re-planned on every execution."""
    async with database.transaction() as conn:
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
