"""The broker side of a deployment as data: RabbitMQ ``definitions.json`` from topology code.

Owns what an administrator applies once per vhost: the vhost, one user per service with least
privilege (configure and write only its own ``<service>.*`` names, read its own queues and the
exchanges it binds to; on its ``<service>.events`` exchange, publish only the routing keys of the
events it owns — RabbitMQ topic permissions), and every exchange, queue and binding the
services would declare. It holds no secret: passwords become RabbitMQ password hashes only when
the caller passes them in.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from warren.contracts.event import Event
from warren.messaging.topology import (
    WorkQueue,
    dead_letter_exchange,
    delay_arguments,
    events_arguments,
    events_exchange,
    foreign_exchanges,
    quorum_arguments,
    retry_exchange,
    unrouted_arguments,
    unrouted_exchange,
)

HASHING = "rabbit_password_hashing_sha256"


@dataclass(frozen=True)
class ServiceTopology:
    """One service's part of the topology: its name, its work queues and the events it owns."""

    service: str
    queues: tuple[WorkQueue, ...] = ()
    publishes: tuple[type[Event], ...] = ()
    """The event types whose ``producer`` is this service: the routing keys it may publish."""


@dataclass(frozen=True)
class Permission:
    """configure / write / read regular expressions of one user in one vhost."""

    configure: str
    write: str
    read: str


def user_name(service: str, prefix: str = "warren-") -> str:
    """The broker user a service runs as."""
    return f"{prefix}{service}"


def user_prefix(login: str, service: str, default: str = "warren-") -> str:
    """The prefix of service users, read off a service's own login (``warren-`` of
    ``warren-orders``); ``default`` when the login does not follow the scheme."""
    return login[: -len(service)] if login.endswith(service) and login != service else default


def permission(topology: ServiceTopology) -> Permission:
    """Least privilege for a service: its own names, plus reading the exchanges it binds to."""
    own = rf"^{re.escape(topology.service)}\..*"
    foreign = foreign_exchanges(topology.service, topology.queues)
    if not foreign:
        return Permission(configure=own, write=own, read=own)
    alternatives = "|".join([rf"{re.escape(topology.service)}\..*", *map(re.escape, foreign)])
    return Permission(configure=own, write=own, read=f"^({alternatives})$")


def topic_permission(topology: ServiceTopology) -> dict[str, str]:
    """What the service may publish on its events exchange: exactly its own event types.

    RabbitMQ matches ``write`` against the routing key of every publish to the topic exchange
    (and refuses others with ACCESS_REFUSED); ``read`` against binding keys, left open. A
    service that owns no event may publish nothing there (no routing key is empty).
    """
    keys = sorted(event.type for event in topology.publishes)
    write = f"^({'|'.join(map(re.escape, keys))})$" if keys else "^$"
    return {"exchange": events_exchange(topology.service), "write": write, "read": ".*"}


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's salted SHA-256 password hash (``rabbit_password_hashing_sha256``)."""
    salt = salt if salt is not None else os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(
    vhost: str,
    services: Sequence[ServiceTopology],
    *,
    user_prefix: str = "warren-",
    passwords: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``definitions.json`` for ``vhost``: users, permissions, exchanges, queues, bindings.

    ``passwords`` maps a service to its password; a service without one gets an empty hash (the
    user exists but cannot log in with a password until one is set at deploy time).
    """
    passwords = passwords or {}
    users, grants, topics, exchanges, queues, bindings = [], [], [], [], [], []
    for topology in services:
        name = user_name(topology.service, user_prefix)
        secret = passwords.get(topology.service)
        users.append(
            {
                "name": name,
                "password_hash": password_hash(secret) if secret else "",
                "hashing_algorithm": HASHING,
                "tags": [],
            }
        )
        grant = permission(topology)
        grants.append({"user": name, "vhost": vhost, **grant.__dict__})
        topics.append({"user": name, "vhost": vhost, **topic_permission(topology)})
        exchanges.extend(_exchanges(vhost, topology.service))
        queues.append(_unrouted_queue(vhost, topology.service))
        bindings.append(_unrouted_binding(vhost, topology.service))
        for queue in topology.queues:
            queues.extend(_queues(vhost, queue))
            bindings.extend(_bindings(vhost, queue))
    return {
        "vhosts": [{"name": vhost}],
        "users": users,
        "permissions": grants,
        "topic_permissions": topics,
        "policies": [],
        "exchanges": exchanges,
        "queues": queues,
        "bindings": bindings,
    }


def _exchanges(vhost: str, service: str) -> list[dict[str, Any]]:
    kinds: tuple[tuple[str, str, dict[str, Any]], ...] = (
        (events_exchange(service), "topic", events_arguments(service)),
        (retry_exchange(service), "direct", {}),
        (dead_letter_exchange(service), "direct", {}),
        (unrouted_exchange(service), "fanout", {}),
    )
    return [
        {
            "name": name,
            "vhost": vhost,
            "type": kind,
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": arguments,
        }
        for name, kind, arguments in kinds
    ]


def _unrouted_queue(vhost: str, service: str) -> dict[str, Any]:
    """``<service>.unrouted``, where its events exchange's alternate exchange keeps events."""
    return {
        "name": unrouted_exchange(service),
        "vhost": vhost,
        "durable": True,
        "auto_delete": False,
        "arguments": unrouted_arguments(),
    }


def _unrouted_binding(vhost: str, service: str) -> dict[str, Any]:
    name = unrouted_exchange(service)
    return {
        "source": name,
        "vhost": vhost,
        "destination": name,
        "destination_type": "queue",
        "routing_key": "",
        "arguments": {},
    }


def _queues(vhost: str, queue: WorkQueue) -> list[dict[str, Any]]:
    declared = [
        (queue.name, quorum_arguments(queue)),
        (queue.dead_letter_queue, {"x-queue-type": "quorum"}),
        *(
            (queue.delay_queue(d), delay_arguments(queue, d))
            for d in sorted(set(queue.retry.delays))
        ),
    ]
    return [
        {"name": name, "vhost": vhost, "durable": True, "auto_delete": False, "arguments": args}
        for name, args in declared
    ]


def _bindings(vhost: str, queue: WorkQueue) -> list[dict[str, Any]]:
    pairs = [
        (retry_exchange(queue.service), queue.name, queue.name),
        *((events_exchange(e.producer), queue.name, e.type) for e in queue.handlers),
        (dead_letter_exchange(queue.service), queue.dead_letter_queue, queue.dead_letter_queue),
        *(
            (retry_exchange(queue.service), queue.delay_queue(d), queue.delay_queue(d))
            for d in sorted(set(queue.retry.delays))
        ),
    ]
    return [
        {
            "source": source,
            "vhost": vhost,
            "destination": destination,
            "destination_type": "queue",
            "routing_key": key,
            "arguments": {},
        }
        for source, destination, key in pairs
    ]
