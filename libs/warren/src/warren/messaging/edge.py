"""The message edge: where each event type may come from, and the check every delivery passes.

Owns DESIGN.md's trust rule for messages. Every event type has one owner (``Event.producer``); a
work queue accepts it only through the owner's ``<owner>.events`` exchange with routing key = the
type, or through the queue's own ``<service>.retry`` exchange (its retries and operator replays:
only the service and operators may write there). AMQP ``type`` and envelope ``type`` must agree,
the CloudEvents ``source`` must be the owner's, and, when publishers are verified, the
broker-validated ``user_id`` must be the owner's broker user. Everything a delivery is compared
with is computed once per queue, so the check is a few dictionary reads. It also says which
headers steer the platform, so that only the platform's own exchanges may set them. It does not
decode, publish or count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from warren.messaging._errors import UntrustedSource
from warren.messaging.definitions import user_name
from warren.messaging.message import source_of
from warren.messaging.topology import WorkQueue, events_exchange, retry_exchange

ATTEMPTS = "x-attempts"
ORIGINAL_USER = "x-original-user-id"
ORIGINAL_EXCHANGE = "x-original-exchange"
ORIGINAL_ROUTING_KEY = "x-original-routing-key"
# Headers the platform writes and reads back (retry count, origin, failure record, the broker's
# dead-lettering record): trusted only on a message that came through the platform's own retry
# exchange; stripped from anything arriving from a publisher.
PLATFORM_HEADERS = frozenset(
    {ATTEMPTS, "x-queue", "x-failed-at", "x-replayed-at", "x-replay-count", "x-death"}
)
PLATFORM_PREFIXES = ("x-original-", "x-error-", "x-last-error-", "x-first-death-", "x-last-death-")


def is_platform_header(name: str) -> bool:
    """Whether ``name`` is a header the platform sets and acts on (a publisher may not)."""
    return name in PLATFORM_HEADERS or name.startswith(PLATFORM_PREFIXES)


class Edge:
    """The routes, sources and users a work queue accepts, per event type, computed once.

    ``users_prefix`` names the owners' broker users (``warren-`` + owner); None turns the
    ``user_id`` check off (local development, where every service logs in as ``guest``).
    """

    def __init__(self, queue: WorkQueue, *, users_prefix: str | None = None) -> None:
        self.queue = queue.name
        self.retry_exchange = retry_exchange(queue.service)
        self.exchanges = {e.type: events_exchange(e.producer) for e in queue.handlers}
        self.sources = {e.type: source_of(e.producer) for e in queue.handlers}
        self.owners = {e.type: e.producer for e in queue.handlers}
        self.users = (
            None
            if users_prefix is None
            else {e.type: user_name(e.producer, users_prefix) for e in queue.handlers}
        )

    def is_retried(self, exchange: str | None, routing_key: str | None) -> bool:
        """Whether a delivery came back through the queue's own retry exchange."""
        return exchange == self.retry_exchange and routing_key == self.queue

    def admit(
        self,
        *,
        exchange: str,
        routing_key: str,
        amqp_type: str,
        envelope_type: str,
        source: str,
        user_id: str,
        headers: Mapping[str, Any],
    ) -> None:
        """Return if the delivery may reach a handler; else raise :class:`UntrustedSource`.

        ``envelope_type`` is one this queue handles (decoding made sure of it).
        """
        owner = self.owners[envelope_type]
        # A plain AMQP client may leave ``type`` out (the routing key still names the type); a
        # type it does give must be the envelope's.
        if amqp_type and amqp_type != envelope_type:
            raise UntrustedSource(
                "type", f"AMQP type {amqp_type!r} is not the envelope's type {envelope_type!r}"
            )
        if exchange == self.retry_exchange:
            if routing_key != self.queue:
                raise UntrustedSource(
                    "routing_key",
                    f"routing key {routing_key!r} on {exchange!r} is not the queue {self.queue!r}",
                )
            user = _text(headers.get(ORIGINAL_USER))  # the platform recorded it on first arrival
        else:
            if exchange != self.exchanges[envelope_type]:
                raise UntrustedSource(
                    "exchange",
                    f"{envelope_type} arrived through exchange {exchange!r}; its owner "
                    f"{owner!r} publishes it on {self.exchanges[envelope_type]!r}",
                )
            if routing_key != envelope_type:
                raise UntrustedSource(
                    "routing_key", f"routing key {routing_key!r} is not the type {envelope_type!r}"
                )
            user = user_id
        if source != self.sources[envelope_type]:
            raise UntrustedSource(
                "source",
                f"source {source!r} is not {envelope_type}'s owner "
                f"({self.sources[envelope_type]!r})",
            )
        if self.users is not None and user != self.users[envelope_type]:
            raise UntrustedSource(
                "user",
                f"published by broker user {user!r}, not {envelope_type}'s owner "
                f"{self.users[envelope_type]!r}",
            )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""
