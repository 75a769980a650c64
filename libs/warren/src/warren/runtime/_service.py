"""What a service declares in its composition root: its store, migrations, queues and routes.

Owns the shape of a service (``Service``, ``Subscription``, the ``Step`` signature shared by
message handlers and HTTP writes). It starts nothing; ``Runtime`` brings a ``Service`` to life.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, Generic, TypeVar

from fastapi import APIRouter

from warren.contracts.event import Event
from warren.db import Connection, Migration
from warren.runtime._settings import ServiceSettings
from warren.telemetry.dashboard import Graph

if TYPE_CHECKING:
    from warren.runtime._runtime import Runtime

S = TypeVar("S")

Step = Callable[Concatenate[Any, S, ...], Awaitable[Sequence[Event]]]
"""A unit of work: ``async def (event_or_command, store, *dependencies) -> events to publish``.

Message handlers and HTTP writes have this one shape; the runtime runs it in a transaction, writes
the returned events to the outbox, and (for messages) records the inbox entry, all in one commit.
Parameters after the store are declared by type and filled from ``Service.dependencies``.
"""


@dataclass(frozen=True)
class Subscription(Generic[S]):
    """A work queue ``<service>.<purpose>`` and its handler table: event class -> step."""

    purpose: str
    handlers: Mapping[type[Event], Step[S]]
    prefetch: int | None = None


@dataclass(frozen=True)
class Service(Generic[S]):
    """Everything the runtime needs to run one service, built by the service's ``build()``."""

    settings: ServiceSettings
    store: Callable[[Connection], S]
    publishes: Sequence[type[Event]] = ()
    migrations: Sequence[Migration] = ()
    subscriptions: Sequence[Subscription[S]] = ()
    router: APIRouter | None = None
    on_start: Sequence[Callable[[Runtime[S]], Awaitable[None]]] = field(default_factory=tuple)
    background: Sequence[Callable[[Runtime[S]], Coroutine[Any, Any, None]]] = field(
        default_factory=tuple
    )
    """Loops that run for the life of the process (a deadline sweeper): started after the relay
    and the consumers, cancelled first on stop. A loop must survive its own transient errors."""
    title: str = ""
    dashboard: Sequence[Graph] = ()
    """Panels of this service's own on the project's Grafana board (``warren dashboards``)."""
    dependencies: Sequence[object] = ()
    """What steps may declare beyond ``(subject, store)``, matched by type (a provider client)."""

    @property
    def name(self) -> str:
        """The service's name (``orders``)."""
        return self.settings.service
