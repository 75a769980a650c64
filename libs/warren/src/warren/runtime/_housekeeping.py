"""Retention for the outbox and the inbox: old rows are deleted so the tables stay small.

Owns the periodic purge only. Sent outbox rows and inbox entries older than the retention are
removed; unsent outbox rows are never touched. The inbox retention must outlast any redelivery
(retries, DLQ replays): a duplicate arriving after its entry is purged would be handled again.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import asyncpg
import structlog

from warren import db
from warren.db import inbox, outbox

log = structlog.get_logger(__name__)


class Housekeeping:
    """Purges every ``interval`` seconds what is older than ``retention``."""

    def __init__(self, database: db.Database, retention: timedelta, interval: float) -> None:
        self.database = database
        self.retention = retention
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background until ``stop``."""
        self._task = asyncio.create_task(self._run(), name="warren-housekeeping")

    async def stop(self) -> None:
        """Cancel the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def purge_once(self) -> tuple[int, int]:
        """Delete old sent outbox rows and old inbox entries; (outbox, inbox) counts."""
        async with self.database.transaction() as conn:
            sent = await outbox.purge_sent(conn, self.retention)
            seen = await inbox.purge(conn, self.retention)
        return sent, seen

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                sent, seen = await self.purge_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("housekeeping failed; will try again", error=repr(error))
                continue
            if sent or seen:
                log.info("housekeeping purged", outbox_rows=sent, inbox_entries=seen)
