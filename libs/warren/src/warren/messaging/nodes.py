"""The broker's nodes: an AMQP URL listing several hosts, and a connection that fails over.

Owns ``amqp://user:pass@host1:5672,host2:5673/vhost`` — one URL for a RabbitMQ cluster, the way
the Java client and the RabbitMQ docs list addresses — and the robust connection that tries the
next node on every (re)connect attempt. A single-host URL behaves exactly as before. It does not
publish, consume or declare anything.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from yarl import URL


def node_urls(url: str) -> list[str]:
    """One URL per node listed in ``url`` (same credentials, vhost and query), in order.

    >>> node_urls("amqp://u:p@a:5672,b:5673/v")
    ['amqp://u:p@a:5672/v', 'amqp://u:p@b:5673/v']
    """
    parts = urlsplit(url)
    credentials, _, hosts = parts.netloc.rpartition("@")
    prefix = f"{credentials}@" if credentials else ""
    return [
        urlunsplit(parts._replace(netloc=prefix + host.strip()))
        for host in hosts.split(",")
        if host.strip()
    ]


def redact(url: str) -> str:
    """``url`` with its password replaced by ``******`` (for logs and errors)."""
    parts = urlsplit(url)
    credentials, at, hosts = parts.netloc.rpartition("@")
    user = credentials.split(":", 1)[0]
    netloc = f"{user}:******@{hosts}" if ":" in credentials else parts.netloc
    return urlunsplit(parts._replace(netloc=netloc if at else parts.netloc))


class FailoverConnection(aio_pika.RobustConnection):
    """A robust connection over several nodes: each connect attempt goes to the next node.

    aio-pika's robust connection starts every attempt by clearing its transport; that moment is
    taken as the cue to move to the next address, so a lost node is replaced by a live one on the
    first reconnect attempt, and channels, queues and consumers are restored there as usual.
    """

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        self._nodes = [URL(url) for url in urls]
        super().__init__(self._nodes[0], **kwargs)
        self._current = -1  # set after __init__ (which clears the transport): attempt 1 -> node 0

    @property
    def transport(self) -> Any:
        """The underlying transport (None between connections)."""
        return self.__dict__.get("_failover_transport")

    @transport.setter
    def transport(self, value: Any) -> None:
        previous = self.__dict__.get("_failover_transport")
        self.__dict__["_failover_transport"] = value
        if value is None and previous is None and hasattr(self, "_current"):
            self._current = (self._current + 1) % len(self._nodes)
            self.url = self._nodes[self._current]


async def connect(url: str, *, name: str, timeout: float) -> AbstractRobustConnection:
    """A robust connection to the first reachable node of ``url``; it fails over to the others."""
    urls = node_urls(url)
    connection = FailoverConnection(
        urls,
        client_properties={"connection_name": name},
        reconnect_interval=1.0,
        # One node: fail at once, as before. Several: keep trying the others until ``timeout``.
        fail_fast="1" if len(urls) == 1 else "0",
    )
    try:
        await asyncio.wait_for(connection.connect(timeout=timeout / len(urls)), timeout)
    except BaseException:
        await connection.close()
        raise
    return connection
