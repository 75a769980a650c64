"""Migrations against a real PostgreSQL: once each, in order, exactly once across replicas."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from warren.db import Database, Migration, MigrationChanged

# Not idempotent on purpose: applying either twice fails or doubles the row.
CREATE = Migration("0001_create_tally", "CREATE TABLE tally (n int); INSERT INTO tally VALUES (1);")
ADD = Migration("0002_add_to_tally", "INSERT INTO tally VALUES (2);")


async def _ledger(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT name FROM warren_migrations ORDER BY name")
    finally:
        await conn.close()
    return [row["name"] for row in rows]


async def _tally(database: Database) -> list[int]:
    rows = await database.pool.fetch("SELECT n FROM tally ORDER BY n")
    return [row["n"] for row in rows]


async def test_open_creates_platform_tables_and_applies_service_migrations(
    database_url: str,
) -> None:
    database = await Database.open(database_url, migrations=[CREATE])
    try:
        tables = await database.pool.fetch(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'warren_%' ORDER BY tablename"
        )
        assert [t["tablename"] for t in tables] == [
            "warren_inbox",
            "warren_migrations",
            "warren_outbox",
        ]
        assert await _tally(database) == [1]
    finally:
        await database.close()
    assert await _ledger(database_url) == [
        "0001_create_tally",
        "warren.inbox.0001",
        "warren.outbox.0001",
        "warren.outbox.0002",
    ]


async def test_reopening_applies_only_new_migrations(database_url: str) -> None:
    first = await Database.open(database_url, migrations=[CREATE])
    await first.close()

    again = await Database.open(database_url, migrations=[CREATE, ADD])
    same = await Database.open(database_url, migrations=[CREATE, ADD])
    try:
        assert await _tally(again) == [1, 2]
    finally:
        await again.close()
        await same.close()


async def test_replicas_starting_together_apply_each_migration_once(
    missing_database_url: str,
) -> None:
    # Slow enough that replicas overlap: without the lock, a second replica would create the
    # table again while the first one's transaction is still open.
    slow = Migration(CREATE.name, "SELECT pg_sleep(0.2); " + CREATE.sql)
    replicas = await asyncio.gather(
        *(Database.open(missing_database_url, migrations=[slow, ADD]) for _ in range(4))
    )
    try:
        assert await _tally(replicas[0]) == [1, 2]
        assert sorted(await _ledger(missing_database_url)) == [
            "0001_create_tally",
            "0002_add_to_tally",
            "warren.inbox.0001",
            "warren.outbox.0001",
            "warren.outbox.0002",
        ]
    finally:
        for replica in replicas:
            await replica.close()


async def test_a_changed_migration_is_refused_and_nothing_is_applied(database_url: str) -> None:
    first = await Database.open(database_url, migrations=[CREATE])
    await first.close()
    edited = Migration(CREATE.name, CREATE.sql.replace("(1)", "(10)"))

    with pytest.raises(MigrationChanged, match="0001_create_tally"):
        await Database.open(database_url, migrations=[edited, ADD])

    assert "0002_add_to_tally" not in await _ledger(database_url)


async def test_a_failing_migration_applies_nothing(database_url: str) -> None:
    broken = Migration("0002_broken", "INSERT INTO no_such_table VALUES (1);")

    with pytest.raises(asyncpg.UndefinedTableError):
        await Database.open(database_url, migrations=[CREATE, broken])

    database = await Database.open(database_url)
    try:
        assert await database.pool.fetchval("SELECT to_regclass('tally')") is None
    finally:
        await database.close()


async def test_two_migrations_with_one_name_are_refused(database_url: str) -> None:
    with pytest.raises(ValueError, match="0001_create_tally"):
        await Database.open(database_url, migrations=[CREATE, Migration(CREATE.name, "SELECT 1")])
