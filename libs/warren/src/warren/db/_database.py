"""One service's PostgreSQL database: created if missing, migrated, pooled, probed, closed.

Owns the asyncpg pool and the order of startup: make sure the database exists (replicas may race
to create it), open the pool, apply the platform's tables (outbox, inbox) and then the service's
migrations. It does nothing at import and reads no environment: the URL is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg

from warren.db import inbox, outbox
from warren.db._connection import Connection
from warren.db._migration import Migration, apply_migrations
from warren.db._url import database_name, with_database

_log = logging.getLogger(__name__)

_PLATFORM_MIGRATIONS = (outbox.MIGRATION, inbox.MIGRATION, outbox.BACKOFF_MIGRATION)
_MAINTENANCE_DATABASE = "postgres"
_READY_TIMEOUT = 1.0  # seconds; below Kubernetes' default probe timeout
# asyncpg prepares every statement. PostgreSQL plans a prepared statement anew on each execution
# (a "custom plan") for as long as it estimates that cheaper than its generic plan; for the
# platform's outbox append, with its per-aggregate probe, that never changes, and re-planning
# doubled the server's CPU for the statement (measured: ~300 µs more per execution). A unit of
# work's statements are key lookups and small writes, whose generic plan is the custom one.
_SESSION = {"plan_cache_mode": "force_generic_plan"}


class Database:
    """The pool of connections to one service database; build it with ``await Database.open(url)``.

    ``async with database.transaction() as conn:`` is the unit of work: the service's writes, its
    outbox rows and its inbox record share ``conn`` and commit together.

    A connection going back to the pool has its open transaction rolled back, and nothing else:
    leave no session state on a pooled connection (``SET`` without ``LOCAL``, session advisory
    locks, ``LISTEN``, cursors ``WITH HOLD``) — the next borrower would inherit it. asyncpg's
    default reset (``RESET ALL``, ``UNLISTEN *``, unlock, ``CLOSE ALL``) is one more round trip
    on every release, about a tenth of a unit of work's client time, for state Warren never sets.
    """

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        """Wrap an open ``pool`` on ``url``; prefer ``Database.open``, which also migrates."""
        self._pool = pool
        self._url = url

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        migrations: Sequence[Migration] = (),
        min_size: int = 1,
        max_size: int = 10,
    ) -> Database:
        """Create the database in ``url`` if missing, pool it, apply platform then ``migrations``.

        Safe for several replicas at once: creation tolerates losing the race, and migrations are
        serialised by a lock, each applied exactly once.
        """
        await _ensure_database(url)
        pool = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            reset=_keep_session,
            server_settings=_SESSION,
        )
        try:
            async with pool.acquire() as conn:
                applied = await apply_migrations(conn, [*_PLATFORM_MIGRATIONS, *migrations])
        except BaseException:
            pool.terminate()  # nothing was lent out yet: no need to wait for anything
            raise
        if applied:
            _log.info("applied migrations %s", ", ".join(applied))
        return cls(pool, url)

    @property
    def pool(self) -> asyncpg.Pool:
        """The asyncpg pool, for queries that need no transaction."""
        return self._pool

    @property
    def url(self) -> str:
        """The URL this database was opened with (it may carry a password: do not log it)."""
        return self._url

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Borrow a connection and run a transaction on it: commit on exit, roll back on error."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def is_ready(self) -> bool:
        """True when a ``SELECT 1`` succeeds within a second; never raises (for ``/readyz``)."""
        try:
            async with asyncio.timeout(_READY_TIMEOUT):
                return bool(await self._pool.fetchval("SELECT 1") == 1)
        except Exception:  # any failure means "not ready"; the probe must not crash the endpoint
            return False

    async def close(self) -> None:
        """Wait for borrowed connections to come back, then close them all."""
        await self._pool.close()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset after asyncpg's own rollback of an open transaction: nothing more."""


async def _ensure_database(url: str) -> None:
    """Create the database ``url`` names unless it exists (or the URL names none)."""
    name = database_name(url)
    if name is None:
        return
    try:
        probe = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        await _create_database(url, name)
    else:
        await probe.close()


async def _create_database(url: str, name: str) -> None:
    admin = await asyncpg.connect(with_database(url, _MAINTENANCE_DATABASE))
    try:
        # Another replica may create it between our probe and here: the same outcome, not an error.
        # Two concurrent CREATE DATABASE can also collide on pg_database's unique index.
        with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            await admin.execute(f"CREATE DATABASE {_quote_identifier(name)}")
    finally:
        await admin.close()


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
