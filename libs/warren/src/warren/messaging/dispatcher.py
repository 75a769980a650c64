"""The bus outbox: a unit of work's events published by its own process right after commit.

Owns the fast path from a committed outbox row to the broker. The writer reserves each
aggregate's head row when it appends it (``warren.db.outbox.append``); once the transaction has
committed, the dispatcher publishes those rows with confirms — no NOTIFY, no relay round trip
to claim them — and has the relay mark them sent in batches, on its connection. The relay stays
the safety net: it takes a reserved row the dispatcher could not publish (released at once) or
never got to (a crash: after the reservation lapses), and every row that was not reserved.
So a committed event is still never lost and never overtakes an earlier one of its aggregate;
a mark lost in a crash only means a re-publish, which consumers' inboxes absorb.
It never opens business transactions and never decides what to publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from uuid import UUID

import asyncpg
import structlog

from warren import telemetry
from warren.db import outbox
from warren.messaging.relay import OutboxRelay, from_row
from warren.telemetry import metrics

log = structlog.get_logger(__name__)

_RETRY_FIRST, _RETRY_MAX = 0.1, 5.0  # seconds between attempts while the database fails
_DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError)


class Dispatcher:
    """Publishes reserved outbox rows after their commit; ``relay`` marks them sent in batches.

    ``reservation`` (seconds) is how long relays leave a reserved row to this dispatcher: longer
    than a publish and its mark take under load, short enough that a crash delays its events
    little. At most ``max_in_flight`` publishes run at once; rows beyond that are released to
    the relays rather than queued in memory. ``published``, ``released`` count rows.
    """

    def __init__(
        self,
        relay: OutboxRelay,
        *,
        reservation: float = 3.0,
        max_in_flight: int = 1000,
    ) -> None:
        self.relay = relay
        self.broker = relay.broker
        self.reservation = reservation
        self.max_in_flight = max_in_flight
        self.published = 0
        self.released = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._sent: list[UUID] = []
        self._failed: list[UUID] = []
        self._pending = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run the batch marker in a background task."""
        self._flusher = asyncio.create_task(
            self._flush_forever(), name=f"outbox-dispatcher-{self.broker.service}"
        )

    def dispatch(self, records: Sequence[outbox.OutboxRecord]) -> None:
        """Publish ``records`` (reserved by ``append``, now committed) in the background."""
        written = time.time()
        for record in records:
            if len(self._in_flight) >= self.max_in_flight:
                self._give_up(record.id)
                continue
            task = asyncio.create_task(self._publish(record, written))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def stop(self, timeout: float = 10.0) -> None:
        """Let publishes in flight finish (up to ``timeout`` s), then write their marks."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=timeout)
        for task in list(self._in_flight):
            task.cancel()  # left reserved: the relays take them when the reservation lapses
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        with contextlib.suppress(OSError, TimeoutError, *_DATABASE_ERRORS):
            async with asyncio.timeout(timeout):
                await self._flush()

    async def _publish(self, record: outbox.OutboxRecord, written: float) -> None:
        try:
            await self.broker.send(from_row(record))
        except Exception as error:  # a refused or failed publish: the relay retries it
            log.warning(
                "direct publish failed; the outbox relay takes the event",
                message_id=str(record.id),
                aggregate_id=record.aggregate_id,
                error=repr(error),
            )
            self._give_up(record.id)
            return
        metrics.OUTBOX_PUBLISH_LAG.observe(max(time.time() - written, 0.0))
        self.published += 1
        self._sent.append(record.id)
        self._pending.set()

    def _give_up(self, row_id: UUID) -> None:
        self.released += 1
        self._failed.append(row_id)
        self._pending.set()

    async def _flush_forever(self) -> None:
        """Mark what was published since the last batch; one statement per batch."""
        delay = _RETRY_FIRST
        with telemetry.untraced():  # bookkeeping, not anyone's transaction
            while True:
                await self._pending.wait()
                self._pending.clear()
                try:
                    await self._flush()
                except (OSError, *_DATABASE_ERRORS) as error:
                    log.warning("outbox marks not written yet", error=repr(error))
                    self._pending.set()  # the ids were put back: try again after a pause
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _RETRY_MAX)
                    continue
                delay = _RETRY_FIRST

    async def _flush(self) -> None:
        sent, self._sent = self._sent, []
        failed, self._failed = self._failed, []
        if not sent and not failed:
            return
        try:
            await self.relay.settle(sent, failed)
        except BaseException:
            # Kept for the next attempt (a lapsed reservation makes the relays re-publish
            # them meanwhile, which the inboxes absorb); bounded so an outage cannot grow it.
            self._sent = (sent + self._sent)[-100_000:]
            self._failed = (failed + self._failed)[-100_000:]
            raise
