"""PostgreSQL over TLS against the tests' own TLS-only server: ``warren.db``'s pool and its
LISTEN connection both honour ``sslmode=verify-full`` from the URL, and a stranger CA, a host name
the certificate does not name, and a plain connection are all refused."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from tls_setup import Pki, database_url

from tests.harness import PostgresCluster
from warren import db
from warren.db import listener
from warren.testing import wait_until


def verified(postgres: PostgresCluster, pki: Pki, **overrides: str) -> str:
    """A fresh database's URL on ``postgres`` with verify-full against ``pki``'s CA."""
    query = {"sslmode": "verify-full", "sslrootcert": str(pki.ca), **overrides}
    return database_url(postgres, database=f"tls_{uuid.uuid4().hex[:8]}", **query)


async def test_the_pool_and_the_listener_talk_tls_verified(
    postgres: PostgresCluster, pki: Pki
) -> None:
    database = await db.Database.open(verified(postgres, pki))
    try:
        assert await database.pool.fetchval(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        )
        async with listener.listen(database, "tls_probe") as wakeups:
            wakeups.clear()
            await database.pool.execute("NOTIFY tls_probe")
            assert await wait_until(_is_set(wakeups), timeout=5, what="notification")
            listeners = await database.pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity JOIN pg_stat_ssl USING (pid) "
                "WHERE query LIKE 'LISTEN%' AND ssl"
            )
            assert listeners == 1
    finally:
        await database.close()


def _is_set(event: asyncio.Event) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return event.is_set()

    return check


async def test_a_server_certificate_from_another_ca_is_refused(
    postgres: PostgresCluster, pki: Pki
) -> None:
    url = verified(postgres, pki, sslrootcert=str(pki.other_ca))
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await db.Database.open(url)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        async with listener.listen(url):
            pass


async def test_a_host_name_the_certificate_does_not_name_is_refused(
    postgres: PostgresCluster, pki: Pki
) -> None:
    url = verified(postgres, pki).replace("@localhost:", "@127.0.0.1:", 1)
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        await db.Database.open(url)


async def test_a_plain_connection_is_refused_by_a_tls_only_server(
    postgres: PostgresCluster, pki: Pki
) -> None:
    url = verified(postgres, pki, sslmode="disable")
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="no encryption"):
        await db.Database.open(url)
