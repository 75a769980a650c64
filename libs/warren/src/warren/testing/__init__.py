"""Test helpers for suites built on Warren: real servers, throwaway vhosts and databases.

Public API, like structlog's ``testing``: a project's tests use these to talk to a real RabbitMQ and
PostgreSQL. Nothing here mocks a broker or a database.
"""

from warren.messaging.url import vhost_url
from warren.testing._database import drop_databases, fresh_database
from warren.testing._ports import free_port, free_ports
from warren.testing._provisioning import provisioned_vhost
from warren.testing._servers import Servers, ServersUnavailable, discover_servers
from warren.testing._service import ServiceUnderTest, running_service
from warren.testing._tap import EventTap, Tapped
from warren.testing._vhost import fresh_vhost
from warren.testing._wait import wait_until

__all__ = [
    "EventTap",
    "Servers",
    "ServersUnavailable",
    "ServiceUnderTest",
    "Tapped",
    "discover_servers",
    "drop_databases",
    "free_port",
    "free_ports",
    "fresh_database",
    "fresh_vhost",
    "provisioned_vhost",
    "running_service",
    "vhost_url",
    "wait_until",
]
