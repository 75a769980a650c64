"""The test harness's own servers: RabbitMQ nodes and clusters, PostgreSQL clusters, TLS, faults.

The chaos tests and the TLS integration tests start their own broker nodes and database clusters
(to stop, partition or secure them); a project's service tests need none of this, so it lives
here beside the tests, not in ``warren.testing``. Import this package as ``tests.harness``.
"""

from tests.harness.faults import close_connections
from tests.harness.postgres_cluster import PostgresCluster, postgres_cluster
from tests.harness.rabbitmq_node import RabbitCluster, RabbitNode, rabbitmq_cluster
from tests.harness.server_tls import ServerTLS

__all__ = [
    "PostgresCluster",
    "RabbitCluster",
    "RabbitNode",
    "ServerTLS",
    "close_connections",
    "postgres_cluster",
    "rabbitmq_cluster",
]
