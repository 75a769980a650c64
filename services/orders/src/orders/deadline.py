"""The saga deadline: the sweeper that cancels every order still open at its deadline.

Owns *when* deadlines are enforced; *what* happens to an overdue order is ``domain.expire``. Why a
durable schedule in the orders database (a ``deadline_at`` column, fixed at placement, and this
sweeper) rather than RabbitMQ's per-order delayed message (TTL + dead-letter): the deadline lives
with the order it guards, in the same row and the same transaction, so it survives a restart of
orders or of the broker, cannot be lost between the order's commit and a second publish, and needs
no extra queue, permission or ordering assumption (a per-message TTL only expires at the head of
its queue, so a shortened setting would wait behind older, longer deadlines). Each sweep claims
small batches of overdue open orders ``FOR UPDATE SKIP LOCKED`` and cancels them through the one
write path (``Writer.execute`` -> ``order.cancelled`` in the outbox, one commit): replicas sweep
side by side without ever cancelling an order twice, and a saga reply holding an order's lock
wins (the order is looked at again on the next sweep). It runs every tenth of the deadline
(within 0.5-30 s), so an order ends at most that long after its deadline. After each sweep it
sets ``orders_past_deadline`` (the open orders more than a minute overdue), which the
``WarrenOrdersPastDeadline`` alert watches: above zero, sweeps are failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from prometheus_client import Gauge

from orders import domain
from orders.store import OrderStore
from warren.contracts.event import Event
from warren.runtime import Runtime, Writer

BATCH = 20
"""Orders cancelled per transaction: small, so a sweep never holds many row locks at once."""

GRACE = timedelta(minutes=1)
"""How late an open order may be before it counts in ``orders_past_deadline``."""

PAST_DEADLINE = Gauge(
    "orders_past_deadline",
    "Open (pending or reserved) orders more than a minute past their deadline, after the last "
    "sweep; above zero, the deadline sweeper is failing to cancel them.",
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Sweep:
    """One batch: cancel up to ``limit`` orders still open past their deadline at ``at``."""

    at: datetime
    limit: int = BATCH


async def expire_overdue(sweep: Sweep, store: OrderStore) -> list[Event]:
    """Cancel a batch of open orders whose deadline has passed; their ``order.cancelled`` events."""
    events: list[Event] = []
    for before in await store.claim_overdue(sweep.at, sweep.limit):
        after, cancelled = domain.expire(before, sweep.at)
        await store.save(before, after)
        events += cancelled
    return events


async def sweep_once(writer: Writer[OrderStore], at: datetime | None = None) -> int:
    """Cancel every order overdue at ``at`` (default: now) that no one else holds; how many."""
    at = at or datetime.now(UTC)
    cancelled = 0
    while True:
        events = await writer.execute(expire_overdue, Sweep(at))
        cancelled += len(events)
        if len(events) < BATCH:
            return cancelled


Loop = Callable[[Runtime[OrderStore]], Coroutine[Any, Any, None]]


def sweeping(deadline: domain.Deadline) -> Loop:
    """The background loop that sweeps every ``deadline.sweep_interval`` seconds."""

    async def sweep_deadlines(runtime: Runtime[OrderStore]) -> None:
        while True:
            try:
                cancelled = await sweep_once(runtime.writer)
            except Exception as error:  # the loop outlives any one failed sweep
                log.warning("deadline sweep failed; will try again", error=repr(error))
            else:
                if cancelled:
                    log.info("orders cancelled at their deadline", orders=cancelled)
            try:
                async with runtime.database.transaction() as conn:
                    late = await OrderStore(conn).count_open_due_by(datetime.now(UTC) - GRACE)
                PAST_DEADLINE.set(late)
            except Exception as error:  # the gauge keeps its last value; the next sweep retries
                log.warning("counting overdue orders failed", error=repr(error))
            await asyncio.sleep(deadline.sweep_interval)

    return sweep_deadlines
