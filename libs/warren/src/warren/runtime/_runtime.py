"""The lifecycle of one service process: its parts, started and stopped in order.

Owns the order (pool and broker -> topology -> start hooks -> outbox relay and consumers ->
background loops; the reverse on the way down) and the live objects HTTP routes reach through
``request.app.state``.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

import structlog

from warren.contracts.event import Event
from warren.db import Database
from warren.messaging import Broker, Consumer, Delivery, Handler, RetryPolicy, WorkQueue
from warren.messaging.dispatcher import Dispatcher
from warren.messaging.nodes import node_urls
from warren.messaging.relay import OutboxRelay
from warren.runtime._housekeeping import Housekeeping
from warren.runtime._service import Service, Step, Subscription
from warren.runtime._unit_of_work import Writer
from warren.runtime._vhost import ensure_vhost

S = TypeVar("S")
log = structlog.get_logger(__name__)


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with its path replaced by ``/name``."""
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


class Runtime(Generic[S]):
    """The running parts of one service; ``await start()`` then ``await stop()``."""

    def __init__(self, service: Service[S]) -> None:
        self.service = service
        self.settings = service.settings
        self._database: Database | None = None
        self._broker: Broker | None = None
        self._writer: Writer[S] | None = None
        self.consumers: list[Consumer] = []
        self.relay: OutboxRelay | None = None
        self.dispatcher: Dispatcher | None = None
        self.housekeeping: Housekeeping | None = None
        self.loops: list[asyncio.Task[None]] = []

    @property
    def database(self) -> Database:
        """The service database (after ``start``)."""
        if self._database is None:
            raise RuntimeError("the runtime has not started")
        return self._database

    @property
    def broker(self) -> Broker:
        """The broker connection (after ``start``)."""
        if self._broker is None:
            raise RuntimeError("the runtime has not started")
        return self._broker

    @property
    def writer(self) -> Writer[S]:
        """The one write path (after ``start``)."""
        if self._writer is None:
            raise RuntimeError("the runtime has not started")
        return self._writer

    def work_queues(self) -> list[WorkQueue]:
        """The service's subscriptions as work queues whose handlers run as units of work."""
        return [self._work_queue(subscription) for subscription in self.service.subscriptions]

    async def start(self) -> None:
        """Connect, declare, run start hooks, then start the relay and the consumers."""
        settings = self.settings
        if settings.environment == "development":
            first_node = node_urls(settings.amqp_url)[0]  # the vhost is cluster-wide
            await ensure_vhost(first_node, settings.rabbitmq_management_url)
        self._database = await Database.open(
            database_url(settings.database_url, settings.database),
            migrations=self.service.migrations,
            max_size=settings.pool_size,
        )
        self._broker = Broker(
            settings.amqp_url, self.service.name, max_message_bytes=settings.max_message_bytes
        )
        await self._broker.connect()
        self.relay = OutboxRelay(self._database, self._broker, batch_size=settings.outbox_batch)
        self.dispatcher = Dispatcher(self.relay)
        self._writer = Writer(
            self._database,
            self.service.name,
            self.service.store,
            self.service.dependencies,
            self.dispatcher,
            group_size=settings.commit_group,
        )
        for subscription in self.service.subscriptions:  # a missing dependency fails the start
            for step in subscription.handlers.values():
                self._writer.prepare(step)
        queues = self.work_queues()
        await self._broker.declare(queues)
        for hook in self.service.on_start:
            await hook(self)
        self.relay.start()
        self.dispatcher.start()
        self.housekeeping = Housekeeping(
            self._database,
            timedelta(days=settings.retention_days),
            settings.housekeeping_interval,
        )
        self.housekeeping.start()
        self.consumers = [
            Consumer(
                self._broker,
                queue,
                drain_timeout=settings.drain_timeout,
                verify_publisher=settings.is_publisher_verified,
                log_handled=settings.logs_activity,
            )
            for queue in queues
        ]
        await asyncio.gather(*(consumer.start() for consumer in self.consumers))
        self.loops = [
            asyncio.create_task(loop(self), name=f"{self.service.name}-{_name_of(loop)}")
            for loop in self.service.background
        ]
        for task in self.loops:
            task.add_done_callback(_report_end)
        log.info("service started", queues=[q.name for q in queues])

    async def stop(self) -> None:
        """Stop background loops, consumers (draining in-flight work), the outbox, then close."""
        for task in self.loops:
            task.cancel()
        for task in self.loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.loops = []
        await asyncio.gather(*(consumer.stop() for consumer in self.consumers))
        if self.housekeeping is not None:
            await self.housekeeping.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        if self.relay is not None:
            await self.relay.stop()
        if self._broker is not None:
            await self._broker.close()
        if self._database is not None:
            await self._database.close()
        log.info("service stopped")

    async def readiness(self) -> dict[str, bool]:
        """Whether the broker and the database are reachable and every consumer subscribed."""
        broker = self._broker is not None and await self._broker.is_ready()
        database = self._database is not None and await self._database.is_ready()
        consuming = [await consumer.is_consuming() for consumer in self.consumers]
        return {"broker": broker, "database": database, "consumers": all(consuming)}

    async def outbox_health(self) -> dict[str, object]:
        """The outbox as ``/readyz`` details it: ``ok``, ``stale`` or ``unknown``, with its numbers.

        ``stale`` means its oldest unpublished row is older than ``OUTBOX_STALE_SECONDS``: the
        events of some change are late (broker refusing them, or a relay that stopped). It is a
        detail, never a reason to take the pod out of its Service — HTTP writes still work and
        the rows wait safely; the ``WarrenOutboxStale`` alert is what calls a human.
        """
        measured = None if self.relay is None else await self.relay.measure_backlog(timeout=1.0)
        if measured is None:
            return {"status": "unknown"}
        waiting, age = measured
        stale = age > self.settings.outbox_stale_seconds
        return {
            "status": "stale" if stale else "ok",
            "pending": waiting,
            "oldest_age_seconds": round(age, 3),
        }

    def _work_queue(self, subscription: Subscription[S]) -> WorkQueue:
        settings = self.settings
        name = f"{self.service.name}.{subscription.purpose}"
        handlers: dict[type[Event], Handler] = {
            event: self._handler(step, name) for event, step in subscription.handlers.items()
        }
        return WorkQueue(
            self.service.name,
            subscription.purpose,
            handlers,
            prefetch=subscription.prefetch or settings.prefetch,
            retry=RetryPolicy(tuple(settings.retry_delays)),
            delivery_limit=settings.delivery_limit,
        )

    def _handler(self, step: Step[S], consumer: str) -> Handler:
        async def handle(event: Event, delivery: Delivery) -> None:
            await self.writer.consume(step, consumer, event, delivery)

        handle.__qualname__ = handle.__name__ = getattr(step, "__name__", "handle")
        return handle


def _name_of(loop: object) -> str:
    return str(getattr(loop, "__name__", "loop"))


def _report_end(task: asyncio.Task[None]) -> None:
    # A loop ends only when stopped; anything else is a bug that must not pass unnoticed.
    if not task.cancelled() and task.exception() is not None:
        log.error("background loop died", loop=task.get_name(), error=repr(task.exception()))
