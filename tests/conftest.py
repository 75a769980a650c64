"""Fixtures every test layer shares: the real servers, a fresh vhost per run, fresh databases,
and a token issuer the services under test trust (the real validation path, a test key).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings

from warren.runtime import ADMIN_SCOPE, Issuer
from warren.testing import (
    Servers,
    ServersUnavailable,
    discover_servers,
    fresh_database,
    fresh_vhost,
)

# `make test` fuzzes with a fixed seed so CI is reproducible; run with HYPOTHESIS_PROFILE=explore
# (or without the variable) to let hypothesis and schemathesis look somewhere new.
settings.register_profile("make-test", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


OPERATOR_SCOPES = (
    "orders:read",
    "orders:write",
    "stock:read",
    "stock:write",
    "payments:read",
    "notifications:read",
    ADMIN_SCOPE,
)
"""Every scope the suite's routes declare: what an operator's token (and schemathesis) carries."""


@pytest.fixture(scope="session")
def issuer() -> Issuer:
    """The issuer of this test run: services get ``issuer.settings()``, clients its tokens."""
    return Issuer(issuer="https://issuer.test/", audience="warren-test", kid="test")


@pytest.fixture(scope="session")
def operator_token(issuer: Issuer) -> str:
    """A bearer token with every scope, the admin scope included."""
    return issuer.token("operator", OPERATOR_SCOPES, ttl=24 * 3600)


@pytest.fixture(scope="session")
def trusting(issuer: Issuer) -> dict[str, str]:
    """``Settings(**trusting, ...)``: a service that trusts ``issuer``."""
    return {key.lower(): value for key, value in issuer.settings().items()}


@pytest.fixture(scope="session")
def as_operator(operator_token: str) -> dict[str, str]:
    """``headers=`` of an operator's requests (every scope)."""
    return {"Authorization": f"Bearer {operator_token}"}


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """RabbitMQ and PostgreSQL from AMQP_URL / DATABASE_URL, else testcontainers, else a skip."""
    try:
        found = discover_servers()
    except ServersUnavailable as missing:
        if os.environ.get("WARREN_REQUIRE_SERVERS") == "1":  # make test: never pass by skipping
            pytest.fail(f"RabbitMQ/PostgreSQL required: {missing}")
        pytest.skip(f"no RabbitMQ/PostgreSQL: {missing}")  # the message names AMQP_URL/DATABASE_URL
    yield found
    found.stop()


@pytest.fixture(scope="session")
async def amqp_url(servers: Servers) -> AsyncIterator[str]:
    """An AMQP URL on a vhost made for this test run and deleted after it."""
    async with fresh_vhost(servers.amqp_url, servers.management_url) as url:
        yield url


@pytest.fixture
async def database_url(servers: Servers) -> AsyncIterator[str]:
    """A database made for this test and dropped after it."""
    async with fresh_database(servers.database_url) as url:
        yield url


@pytest.fixture
async def vhost_url(servers: Servers) -> AsyncIterator[str]:
    """An AMQP URL on a vhost made for this one test (strongest isolation; ~50 ms)."""
    async with fresh_vhost(servers.amqp_url, servers.management_url) as url:
        yield url
