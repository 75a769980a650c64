"""LISTEN on a PostgreSQL channel with one dedicated connection that comes back when it drops.

Owns that connection and its supervision: notifications set an ``asyncio.Event``; a lost
connection is noticed (by asyncpg, or by a periodic ping when the network dies silently) and
replaced, and the event is set after every reconnection because notifications sent meanwhile are
gone. It never reads the outbox itself: whoever waits on the event does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from warren.db._connection import Connection
from warren.db._database import Database
from warren.db.outbox import CHANNEL

_log = logging.getLogger(__name__)

_PING_INTERVAL = 30.0  # seconds between liveness checks of an idle listening connection
_PING_TIMEOUT = 5.0
_CLOSE_TIMEOUT = 2.0
_RETRY_FIRST, _RETRY_MAX = 0.1, 5.0  # reconnection backoff, seconds


@asynccontextmanager
async def listen(source: Database | str, channel: str = CHANNEL) -> AsyncIterator[asyncio.Event]:
    """Listen on ``channel`` (the outbox's by default); yield an event set on each notification.

    The event is also set after a lost connection is re-established, since notifications may
    have been missed. Clear it before looking for work, then wait on it with a fallback timeout.
    Listening has begun when the block is entered; the connection closes when it is left.
    """
    url = source.url if isinstance(source, Database) else source
    listener = _Listener(url, channel)
    await listener.connect()
    supervisor = asyncio.create_task(listener.supervise(), name=f"warren.db listen {channel}")
    try:
        yield listener.wakeups
    finally:
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
        await listener.disconnect()


class _Listener:
    """The listening connection of one ``listen`` block and the loop that keeps it alive."""

    def __init__(self, url: str, channel: str) -> None:
        self.wakeups = asyncio.Event()
        self._url = url
        self._channel = channel
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()

    async def connect(self) -> None:
        conn = await asyncpg.connect(self._url)
        self._lost.clear()
        self._conn = conn
        conn.add_termination_listener(self._on_termination)
        await conn.add_listener(self._channel, self._on_notification)

    async def disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await conn.close()
        except Exception:  # a dead peer cannot say goodbye: drop the socket instead
            conn.terminate()

    async def supervise(self) -> None:
        while True:
            await self._wait_until_lost()
            _log.warning("LISTEN connection on %r lost; reconnecting", self._channel)
            await self.disconnect()
            await self._reconnect()
            self.wakeups.set()

    async def _wait_until_lost(self) -> None:
        while True:
            try:
                async with asyncio.timeout(_PING_INTERVAL):
                    await self._lost.wait()
                return
            except TimeoutError:
                if not await self._is_alive():
                    return

    async def _is_alive(self) -> bool:
        try:
            async with asyncio.timeout(_PING_TIMEOUT):
                return self._conn is not None and await self._conn.fetchval("SELECT 1") == 1
        except Exception:  # whatever went wrong, this connection is no use
            return False

    async def _reconnect(self) -> None:
        delay = _RETRY_FIRST
        while True:
            try:
                await self.connect()
                return
            except Exception as error:  # the server may be down for a while: keep trying
                _log.warning("LISTEN on %r: cannot reconnect yet (%s)", self._channel, error)
                await self.disconnect()
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)

    def _on_notification(self, conn: Connection, pid: int, channel: str, payload: object) -> None:
        self.wakeups.set()

    def _on_termination(self, conn: Connection) -> None:
        if conn is self._conn:  # not a connection we closed on purpose
            self._lost.set()
