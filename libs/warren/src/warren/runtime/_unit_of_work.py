"""The unit of work: one transaction for a step's state change, its outbox rows and its inbox entry.

Owns the one write path of every service, for HTTP commands and consumed events alike. Handlers
return events; this module turns them into outbox rows on the same connection and, once the
transaction has committed, hands the rows it reserved to the dispatcher. It does not ack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Generic, TypeVar

import structlog
from opentelemetry import trace

from warren import db, telemetry
from warren.contracts.event import Event
from warren.db import Connection, inbox, outbox
from warren.messaging import Delivery
from warren.messaging.dispatcher import Dispatcher
from warren.messaging.message import prepare
from warren.messaging.relay import to_record
from warren.runtime._injection import Call, bind
from warren.runtime._service import Step
from warren.telemetry import attributes as attr
from warren.telemetry import metrics

S = TypeVar("S")
log = structlog.get_logger(__name__)


class Writer(Generic[S]):
    """Runs steps of one service: ``await writer.execute(place_order, command)``.

    A step's parameters after ``(subject, store)`` are filled from ``dependencies`` by type.
    With a ``dispatcher`` its events are published right after commit (the relay is the safety
    net); without one, the outbox relay publishes them all.
    """

    def __init__(
        self,
        database: db.Database,
        service: str,
        store: Callable[[Connection], S],
        dependencies: Sequence[object] = (),
        dispatcher: Dispatcher | None = None,
    ):
        self.database = database
        self.service = service
        self.store = store
        self.dependencies = tuple(dependencies)
        self.dispatcher = dispatcher
        self._calls: dict[Step[S], Call] = {}

    def prepare(self, step: Step[S]) -> Call:
        """``step`` with its declared dependencies bound (once; an error names what is missing)."""
        call = self._calls.get(step)
        if call is None:
            call = self._calls[step] = bind(step, self.dependencies)
        return call

    async def execute(
        self, step: Step[S], subject: Any, *, correlation_id: str | None = None
    ) -> Sequence[Event]:
        """Run ``step(subject, store)`` in a transaction and queue its events; return them."""
        with _traced_if_recorded():
            async with self.database.transaction() as conn:
                events = await self.prepare(step)(subject, self.store(conn))
                reserved = await self._append(conn, events, correlation_id)
        self._dispatch(reserved)
        return events

    async def consume(self, step: Step[S], consumer: str, event: Event, delivery: Delivery) -> None:
        """Run ``step`` for a delivered event; the inbox makes a duplicate delivery a no-op."""
        with _traced_if_recorded():
            async with self.database.transaction() as conn:
                if not await inbox.record(conn, consumer, delivery.message_id):
                    _duplicate(consumer, delivery)
                    return
                events = await self.prepare(step)(event, self.store(conn))
                reserved = await self._append(conn, events, delivery.correlation_id)
        self._dispatch(reserved)

    async def _append(
        self, conn: Connection, events: Sequence[Event], correlation_id: str | None
    ) -> list[outbox.OutboxRecord]:
        records = []
        for event in events:
            message = prepare(event, service=self.service, correlation_id=correlation_id)
            records.append(to_record(message, aggregate_id=event.subject))
        reservation = None if self.dispatcher is None else self.dispatcher.reservation
        return await outbox.append(conn, records, reserve_for=reservation)

    def _dispatch(self, reserved: list[outbox.OutboxRecord]) -> None:
        if reserved and self.dispatcher is not None:  # committed: publish them now
            self.dispatcher.dispatch(reserved)


def _traced_if_recorded() -> AbstractContextManager[None]:
    """Query spans only inside a recorded trace: a sampled-out unit of work pays nothing for
    the asyncpg instrumentation (it would make non-recording spans, with their attributes)."""
    if trace.get_current_span().is_recording():
        return nullcontext()
    return telemetry.untraced()


def _duplicate(consumer: str, delivery: Delivery) -> None:
    metrics.INBOX_DUPLICATES.labels(consumer, delivery.event_type).inc()
    trace.get_current_span().add_event(
        attr.EVENT_DUPLICATE_SKIPPED, {attr.MESSAGING_MESSAGE_ID: delivery.message_id}
    )
    log.info("duplicate delivery skipped", message_id=delivery.message_id)
