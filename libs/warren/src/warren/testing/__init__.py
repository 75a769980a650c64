"""Test helpers for suites built on Warren: real servers, throwaway vhosts, databases and nodes.

Public API, like structlog's ``testing``: a project's tests use these to talk to a real RabbitMQ and
PostgreSQL. Nothing here mocks a broker or a database.
"""

from warren.testing._database import drop_databases, fresh_database
from warren.testing._faults import close_connections
from warren.testing._ports import free_port, free_ports
from warren.testing._postgres_cluster import PostgresCluster, postgres_cluster
from warren.testing._provisioning import provisioned_vhost
from warren.testing._rabbitmq_node import RabbitCluster, RabbitNode, rabbitmq_cluster
from warren.testing._server_tls import ServerTLS
from warren.testing._servers import Servers, ServersUnavailable, discover_servers
from warren.testing._service import ServiceUnderTest, running_service
from warren.testing._tap import EventTap, Tapped
from warren.testing._vhost import fresh_vhost, vhost_url
from warren.testing._wait import wait_until

__all__ = [
    "EventTap",
    "PostgresCluster",
    "RabbitCluster",
    "RabbitNode",
    "ServerTLS",
    "Servers",
    "ServersUnavailable",
    "ServiceUnderTest",
    "Tapped",
    "close_connections",
    "discover_servers",
    "drop_databases",
    "free_port",
    "free_ports",
    "fresh_database",
    "fresh_vhost",
    "postgres_cluster",
    "provisioned_vhost",
    "rabbitmq_cluster",
    "running_service",
    "vhost_url",
    "wait_until",
]
