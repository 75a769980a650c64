"""A service under test, in this process: started on a throwaway vhost and database, driven from
the test over HTTP and AMQP.

Owns the one way a project's integration tests run a service: the real ``Runtime`` (topology,
consumers, outbox relay) against real servers, an HTTP client on its app (no port), publishing
events as their producer would, and bounded waits on what the service publishes. It mocks
nothing; it never picks the vhost or the database (the caller's fixtures do).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from warren.contracts.event import Event
from warren.db import Database
from warren.messaging import Broker
from warren.runtime import Runtime, Service, create_app
from warren.testing._tap import EventTap, Tapped
from warren.testing._wait import wait_until

S = TypeVar("S")


@dataclass
class ServiceUnderTest(Generic[S]):
    """A started service: ``http`` for its API, ``publish`` as a producer, ``wait_for`` its events.

    ``tap`` has seen every event published on the service's own exchange and on the exchanges
    given as ``watch`` since the start.
    """

    runtime: Runtime[S]
    http: httpx.AsyncClient
    tap: EventTap | None
    amqp_url: str
    _producers: dict[str, Broker] = field(default_factory=dict)
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def close(self) -> None:
        """Close the producers ``publish`` opened (``running_service`` does it on leaving)."""
        await self._stack.aclose()

    @property
    def database(self) -> Database:
        """The service's database (pooled), for assertions on what it stored."""
        return self.runtime.database

    async def publish(self, event: Event) -> str:
        """Publish ``event`` as its producer would (its exchange, confirms); the message id."""
        producer = self._producers.get(event.producer)
        if producer is None:
            producer = Broker(self.amqp_url, event.producer)
            await producer.connect()
            self._stack.push_async_callback(producer.close)
            self._producers[event.producer] = producer
        return await producer.publish(event)

    async def wait_handled(self, *message_ids: str, timeout: float = 10.0) -> None:
        """Until the service's inbox has recorded every one of ``message_ids`` (bounded)."""

        async def recorded() -> bool:
            count = await self.database.pool.fetchval(
                "SELECT count(DISTINCT message_id) FROM warren_inbox"
                " WHERE message_id = ANY($1::text[])",
                list(message_ids),
            )
            return bool(count == len(set(message_ids)))

        what = f"{len(message_ids)} messages handled by {self.runtime.service.name}"
        await wait_until(recorded, timeout=timeout, what=what)

    async def wait_for(self, event_type: str, *, subject: str, timeout: float = 10.0) -> Tapped:
        """The first ``event_type`` about ``subject`` the service published (bounded wait)."""
        if self.tap is None:
            raise RuntimeError("started with tap=False: nothing watches what the service publishes")
        return await self.tap.wait_for(event_type, subject=subject, timeout=timeout)


@asynccontextmanager
async def running_service(
    service: Service[S],
    *,
    watch: Sequence[str] = (),
    base_url: str = "",
    tap: bool = True,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[ServiceUnderTest[S]]:
    """Start ``service`` (built with settings pointing at a test vhost and database) in-process.

    ``async with running_service(build(Settings(amqp_url=..., database_url=...))) as shop:``
    gives a ``ServiceUnderTest``; leaving the block stops the service and closes everything.
    The tap (``tap=True``) binds a queue to every event of the service's exchange, which makes
    them routable; pass ``tap=False`` to test what happens to events no queue wants. ``headers``
    go with every request of the HTTP client (an ``Authorization`` bearer token, for one).
    """
    app = create_app(service)
    runtime: Runtime[Any] = app.state.runtime
    url = service.settings.amqp_url
    exchanges = [f"{service.name}.events", *watch]
    async with AsyncExitStack() as stack:
        tapped = await stack.enter_async_context(EventTap(url, exchanges)) if tap else None
        await runtime.start()
        stack.push_async_callback(runtime.stop)
        transport = httpx.ASGITransport(app=app)
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=transport,
                base_url=base_url or f"http://{service.name}",
                headers=dict(headers or {}),
            )
        )
        under_test = ServiceUnderTest(runtime, http, tapped, url)
        stack.push_async_callback(under_test.close)
        yield under_test
