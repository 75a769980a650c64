"""Where the test servers are: from the environment, else testcontainers, else a clear refusal.

Owns discovery only. It never starts a server when ``AMQP_URL`` and ``DATABASE_URL`` are set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class ServersUnavailable(RuntimeError):
    """Neither the environment nor a Docker engine gives us RabbitMQ and PostgreSQL."""


@dataclass
class Servers:
    """A reachable RabbitMQ (AMQP + management API) and PostgreSQL server."""

    amqp_url: str
    management_url: str
    database_url: str
    _stops: list[Callable[[], object]] = field(default_factory=list, repr=False)

    def stop(self) -> None:
        """Stop the containers this object started (none when taken from the environment)."""
        for stop in reversed(self._stops):
            stop()
        self._stops.clear()


def discover_servers() -> Servers:
    """Servers from ``AMQP_URL`` / ``DATABASE_URL``, else from testcontainers, else raise."""
    amqp_url = os.environ.get("AMQP_URL")
    database_url = os.environ.get("DATABASE_URL")
    if amqp_url and database_url:
        return Servers(amqp_url, _management_url(amqp_url), database_url)
    if _has_docker_engine():
        return _start_containers()
    missing = " and ".join(
        name
        for name, value in (("AMQP_URL", amqp_url), ("DATABASE_URL", database_url))
        if not value
    )
    raise ServersUnavailable(
        f"set {missing} (e.g. AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ "
        "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres) or run a Docker engine "
        "for testcontainers"
    )


def _management_url(amqp_url: str) -> str:
    explicit = os.environ.get("RABBITMQ_MANAGEMENT_URL")
    if explicit:
        return explicit.rstrip("/")
    return f"http://{urlsplit(amqp_url).hostname or '127.0.0.1'}:15672"


def _has_docker_engine() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    probe = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [docker, "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return probe.returncode == 0


def _start_containers() -> Servers:  # pragma: no cover - needs a Docker engine
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.rabbitmq import RabbitMqContainer

    rabbit = RabbitMqContainer("rabbitmq:4.1-management").with_exposed_ports(5672, 15672)
    rabbit.start()
    postgres = PostgresContainer("postgres:16", username="postgres", password="postgres")  # noqa: S106 - throwaway container
    postgres.start()
    host = rabbit.get_container_host_ip()
    amqp = f"amqp://guest:guest@{host}:{rabbit.get_exposed_port(5672)}/"
    management = f"http://{host}:{rabbit.get_exposed_port(15672)}"
    database = postgres.get_connection_url(driver=None)
    return Servers(amqp, management, database, [rabbit.stop, postgres.stop])
