"""Idempotency keys are remembered for ``IDEMPOTENCY_TTL``, then forgotten.

Owns the expiry of ``Idempotency-Key`` claims only (``api.place_order`` claims them). Without it
the table grows with every keyed order, forever. A key is honoured for at least the TTL (24 hours
by default, as payment APIs do): a client retries within minutes, and a replay after the TTL is
a new request that places a new order. The sweep runs every ``HOUSEKEEPING_INTERVAL`` seconds and
deletes expired keys in small batches, oldest first, each batch its own short transaction
(``FOR UPDATE SKIP LOCKED``, so replicas sweep side by side and never wait for each other).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog

from orders.deadline import Loop
from orders.store import OrderStore
from warren import db
from warren.runtime import Runtime

BATCH = 1000
"""Keys deleted per transaction."""

log = structlog.get_logger(__name__)


async def forget_expired(database: db.Database, ttl: timedelta, now: datetime | None = None) -> int:
    """Delete every key claimed more than ``ttl`` before ``now`` (default: now); how many."""
    before = (now or datetime.now(UTC)) - ttl
    forgotten = 0
    while True:
        async with database.transaction() as conn:
            deleted = await OrderStore(conn).forget_keys_before(before, BATCH)
        forgotten += deleted
        if deleted < BATCH:
            return forgotten


def forgetting(ttl: timedelta) -> Loop:
    """The background loop that forgets expired keys every ``HOUSEKEEPING_INTERVAL`` seconds."""

    async def forget_keys(runtime: Runtime[OrderStore]) -> None:
        while True:
            try:
                forgotten = await forget_expired(runtime.database, ttl)
            except Exception as error:  # the loop outlives any one failed sweep
                log.warning("forgetting idempotency keys failed; will try again", error=repr(error))
            else:
                if forgotten:
                    log.info("expired idempotency keys forgotten", keys=forgotten)
            await asyncio.sleep(runtime.settings.housekeeping_interval)

    return forget_keys
