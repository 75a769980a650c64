"""Fixtures every test layer shares: the real servers, a fresh vhost per run, fresh databases."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings

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
