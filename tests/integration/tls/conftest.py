"""TLS fixtures: a throwaway CA (trustme), and the tests' own TLS-only RabbitMQ nodes and
PostgreSQL server started from the installed binaries, so nothing here touches the machine's own.

The servers' certificate names ``localhost`` only: a client that dials ``localhost`` passes host
name verification, one that dials ``127.0.0.1`` (the same server) must not. One RabbitMQ node
wants a CA-signed client certificate (``verify_peer`` + ``fail_if_no_peer_cert``), the other does
not. Client URLs carry the TLS settings the way a service's ``AMQP_URL``/``DATABASE_URL`` do.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme

sys.path.insert(0, str(Path(__file__).parent))  # `import tls_setup` (tests are not packages)

from tls_setup import SERVER_NAME, Pki

from tests.harness import (
    PostgresCluster,
    RabbitCluster,
    ServerTLS,
    postgres_cluster,
    rabbitmq_cluster,
)

if not (Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists() or shutil.which("rabbitmq-server")):
    message = "the TLS tests start their own RabbitMQ node: install rabbitmq-server"
    if os.environ.get("WARREN_REQUIRE_SERVERS") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)


@pytest.fixture(scope="session")
def pki() -> Iterator[Pki]:
    folder = Path(tempfile.mkdtemp(prefix="warren-tls-"))
    try:
        ca = trustme.CA()
        server = ca.issue_cert(SERVER_NAME)
        client = ca.issue_cert("warren-orders")
        files = {
            "ca.crt": ca.cert_pem,
            "server.crt": server.cert_chain_pems[0],
            "server.key": server.private_key_pem,
            "client.crt": client.cert_chain_pems[0],
            "client.key": client.private_key_pem,
            "other-ca.crt": trustme.CA().cert_pem,
        }
        for name, blob in files.items():
            blob.write_to_path(str(folder / name))
            (folder / name).chmod(0o600)
        yield Pki(
            ca=folder / "ca.crt",
            server=ServerTLS(folder / "server.crt", folder / "server.key", folder / "ca.crt"),
            client_certificate=folder / "client.crt",
            client_key=folder / "client.key",
            other_ca=folder / "other-ca.crt",
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="warren-tls-servers-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
async def rabbit(pki: Pki, base: Path) -> AsyncIterator[RabbitCluster]:
    """A TLS-only node that verifies the client's CA-signed certificate only if one is shown."""
    async with rabbitmq_cluster(base / "rabbit", prefix="warren-tls", tls=pki.server) as cluster:
        yield cluster


@pytest.fixture(scope="session")
async def mutual_rabbit(pki: Pki, base: Path) -> AsyncIterator[RabbitCluster]:
    """A TLS-only node that refuses any client without a certificate signed by the CA."""
    tls = ServerTLS(pki.server.certificate_file, pki.server.key_file, pki.ca, True)
    async with rabbitmq_cluster(base / "mutual", prefix="warren-mtls", tls=tls) as cluster:
        yield cluster


@pytest.fixture(scope="session")
async def postgres(pki: Pki, base: Path) -> AsyncIterator[PostgresCluster]:
    """A PostgreSQL server that rejects every connection not made over TLS."""
    async with postgres_cluster(base / "postgres", tls=pki.server) as cluster:
        yield cluster
