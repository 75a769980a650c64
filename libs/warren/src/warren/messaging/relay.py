"""The outbox relay: publishes what transactions wrote to the outbox, with confirms, in order.

Owns the bridge from ``warren.db``'s outbox to the broker: the mapping between an outgoing
message and an outbox record, and the loop that claims rows, publishes them and marks them sent.
It wakes on LISTEN/NOTIFY and polls only as a safety net. Several relays may run at once.
Its own queries are untraced (they belong to no business transaction); each publish continues the
trace stored with its row. It also measures the outbox: publish lag, pending rows, oldest age.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import structlog

from warren import db, telemetry
from warren.db import listener, outbox
from warren.messaging._broker import Broker
from warren.messaging.message import OutgoingMessage
from warren.telemetry import metrics

log = structlog.get_logger(__name__)

# The relay's commits only record "published": should the server lose the last of them in a
# crash, those rows are published again, which consumers' inboxes absorb (at-least-once).
# So they need not wait for the WAL flush; the outbox rows themselves were written by the
# services' transactions, with the database's own durability.
_SESSION = {"synchronous_commit": "off", "application_name": "warren outbox relay"}


def to_record(message: OutgoingMessage, aggregate_id: str) -> outbox.OutboxRecord:
    """The outbox record that will publish ``message``, ordered within ``aggregate_id``."""
    return outbox.OutboxRecord(
        id=uuid.UUID(message.message_id),
        aggregate_id=aggregate_id,
        exchange=message.exchange,
        routing_key=message.routing_key,
        body=message.body,
        headers=message.headers,
        properties={
            "message_id": message.message_id,
            "type": message.type,
            "app_id": message.app_id,
            "timestamp": message.timestamp.isoformat(),
            "correlation_id": message.correlation_id,
            "content_type": message.content_type,
        },
    )


def from_row(row: outbox.OutboxRecord) -> OutgoingMessage:
    """The outgoing message an outbox record stands for."""
    properties = row.properties
    return OutgoingMessage(
        exchange=row.exchange,
        routing_key=row.routing_key,
        body=row.body,
        message_id=properties["message_id"],
        type=properties["type"],
        app_id=properties["app_id"],
        timestamp=datetime.fromisoformat(properties["timestamp"]),
        correlation_id=properties.get("correlation_id"),
        headers=dict(row.headers),
        content_type=properties["content_type"],
    )


class OutboxRelay:
    """Publishes outbox rows of one service database until stopped.

    Each round claims up to ``batch_size`` rows (the earliest unsent per aggregate, not in
    backoff), publishes them concurrently with pipelined confirms, marks the confirmed ones sent,
    defers the failed ones and commits. A failed row stays unsent and backs off on its own — from
    ``first_backoff`` doubling to ``max_backoff`` seconds, recorded in the row so every relay
    agrees — holding back only its own aggregate's later rows; every other aggregate flows on.
    So a message the broker refuses is an error that is retried and reported, never a loss, and
    never a jam. The next round starts at once only if this one may have left work behind (a full
    batch, or a sent row with a later one of its aggregate waiting); otherwise the relay waits for
    a NOTIFY (which every commit after this round's claim has sent) or for its first deferred row
    to fall due, rather than claim nothing. ``rounds`` counts the rounds run.
    """

    def __init__(
        self,
        database: db.Database,
        broker: Broker,
        *,
        batch_size: int = 200,
        idle_poll: float = 5.0,
        first_backoff: float = 0.2,
        max_backoff: float = 30.0,
    ) -> None:
        self.database = database
        self.broker = broker
        self.batch_size = batch_size
        self.idle_poll = idle_poll
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.published = 0
        self.failed = 0
        self.rounds = 0
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._wakeups: asyncio.Event | None = None
        self._using_connection = asyncio.Lock()  # rounds and settle() share the one connection

    def start(self) -> None:
        """Run the relay in a background task."""
        self._task = asyncio.create_task(self.run(), name=f"outbox-relay-{self.broker.service}")

    def wake(self) -> None:
        """Look for work now: rows became claimable that no NOTIFY announced (a ``Dispatcher``)."""
        if self._wakeups is not None:
            self._wakeups.set()

    async def settle(self, sent: Sequence[uuid.UUID], released: Sequence[uuid.UUID]) -> None:
        """Mark rows published elsewhere (a ``Dispatcher``) sent; ``release`` those it could not.

        On the relay's own connection, between its rounds. Wakes the relay when that made rows
        claimable: a released row, or a later row of a just-sent row's aggregate.
        """
        async with self._using_connection:
            conn = await self._connection()
            followed = bool(sent) and await outbox.mark_sent(conn, sent)
            if released:
                await outbox.release(conn, released)
        if followed or released:
            self.wake()

    async def stop(self) -> None:
        """Stop after the round in progress (its transaction rolls back if cut short)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._disconnect()

    async def run(self) -> None:
        """Relay forever: drain, then sleep until a NOTIFY (or ``idle_poll`` seconds)."""
        with telemetry.untraced():  # polling is not a transaction of anyone's: no trace per round
            await self._relay_forever()

    async def _relay_forever(self) -> None:
        outage = 0.0  # backoff while the database itself fails: no row can be claimed then
        async with listener.listen(self.database) as wakeups:
            self._wakeups = wakeups
            while True:
                wakeups.clear()
                try:
                    _, _, more, due_in = await self._round()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                    log.warning("outbox relay round failed", error=repr(error))
                    await self._disconnect()  # a fresh connection next round
                    outage = min(max(outage * 2, self.first_backoff), self.max_backoff)
                    await asyncio.sleep(outage)
                    continue
                outage = 0.0
                if more:
                    continue  # rows wait behind the ones just sent: no NOTIFY will say so
                timeout = self.idle_poll if due_in is None else min(due_in, self.idle_poll)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeups.wait(), timeout)

    async def relay_once(self) -> tuple[int, int]:
        """One round: claim, publish, mark sent, commit. Returns (sent, failed) counts.

        The relay has a connection of its own rather than one from the service's pool: behind a
        busy pool (handlers, HTTP requests) its lag would grow with the load it is meant to drain.
        """
        sent, failed, _, _ = await self._round()
        return sent, failed

    async def _round(self) -> tuple[int, int, bool, float | None]:
        """``relay_once``; whether rows may be claimable right after it; when a deferred one is.

        The last value is the seconds until the first row this round deferred falls due (None if
        it deferred none), so the relay wakes for it without a poll.
        """
        self.rounds += 1
        async with self._using_connection:
            return await self._claim_and_publish(await self._connection())

    async def _claim_and_publish(
        self, conn: asyncpg.Connection
    ) -> tuple[int, int, bool, float | None]:
        async with conn.transaction():
            rows = await outbox.claim(conn, self.batch_size)
            if not rows:
                return 0, 0, False, None
            results = await asyncio.gather(
                *(self.broker.send(from_row(row)) for row in rows), return_exceptions=True
            )
            sent = [row for row, result in zip(rows, results, strict=True) if result is None]
            failures = _failures(rows, results)
            await outbox.mark_sent(conn, [row.id for row in sent])
            due_in = await outbox.defer(
                conn, failures, first_delay=self.first_backoff, max_delay=self.max_backoff
            )
        _observe_lag(rows, results)
        self.published += len(sent)
        self.failed += len(failures)
        more = len(rows) == self.batch_size or any(row.followed for row in sent)
        return len(sent), len(failures), more, due_in

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.database.url, server_settings=_SESSION)
        return self._conn

    async def _disconnect(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await self._conn.close(timeout=5)
            self._conn = None

    async def measure_backlog(self, timeout: float = 2.0) -> tuple[int, float] | None:
        """Refresh the outbox gauges from the database: (pending rows, oldest age in seconds).

        Called when ``/metrics`` is scraped, so the relay's hot loop never pays for counting.
        When the database does not answer within ``timeout`` the gauges keep their last values
        and None is returned (``/readyz`` is where an outage shows).
        """
        try:
            with telemetry.untraced():
                async with asyncio.timeout(timeout), self.database.pool.acquire() as conn:
                    waiting, age = await outbox.pending(conn)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("outbox backlog not measured", error=repr(error))
            return None
        metrics.OUTBOX_PENDING.set(waiting)
        metrics.OUTBOX_OLDEST_PENDING.set(age)
        return waiting, age


def _failures(
    rows: list[outbox.OutboxRow], results: list[BaseException | None]
) -> list[tuple[uuid.UUID, str]]:
    """(row id, error) of each row whose publish failed, each logged once."""
    failures = []
    for row, result in zip(rows, results, strict=True):
        if isinstance(result, BaseException):
            log.error(
                "outbox publish failed; its aggregate backs off",
                message_id=str(row.id),
                aggregate_id=row.aggregate_id,
                attempts=row.attempts + 1,
                error=repr(result),
            )
            failures.append((row.id, repr(result)))
    return failures


def _observe_lag(rows: list[outbox.OutboxRow], results: list[BaseException | None]) -> None:
    """Time from each published row being written to now (confirmed and marked sent)."""
    now = time.time()
    lag = metrics.OUTBOX_PUBLISH_LAG
    for row, result in zip(rows, results, strict=True):
        if result is None:
            lag.observe(max(now - row.created_at.timestamp(), 0.0))
