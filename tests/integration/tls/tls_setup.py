"""What the TLS tests share besides fixtures: the run's certificate files and the client URLs
that carry TLS settings as query parameters, the way a service's AMQP_URL and DATABASE_URL do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from tests.harness import PostgresCluster, RabbitCluster, ServerTLS

SERVER_NAME = "localhost"


@dataclass(frozen=True)
class Pki:
    """One run's files: the CA, the server and client certificates, a stranger CA."""

    ca: Path
    server: ServerTLS
    client_certificate: Path
    client_key: Path
    other_ca: Path


def amqp_url(cluster: RabbitCluster, host: str = SERVER_NAME, **query: str | Path) -> str:
    """The cluster's first node as ``host``, with TLS settings as URL query parameters."""
    url = cluster.node_url().replace("127.0.0.1", host, 1)
    return f"{url}?{urlencode(query)}" if query else url


def database_url(
    cluster: PostgresCluster, host: str = SERVER_NAME, database: str = "postgres", **query: str
) -> str:
    """A URL on ``database`` of ``cluster`` as ``host``, with ``query`` (sslmode...)."""
    url = f"postgresql://postgres@{host}:{cluster.port}/{database}"
    return f"{url}?{urlencode(query)}" if query else url
