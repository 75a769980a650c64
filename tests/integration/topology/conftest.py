"""A vhost provisioned from the generated definitions, one user per service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from warren.cli._topology import service_topologies
from warren.testing import Servers, provisioned_vhost


@dataclass
class Imported:
    """AMQP URLs, one per service user."""

    urls: dict[str, str]


@pytest.fixture
async def imported(servers: Servers) -> AsyncIterator[Imported]:
    async with provisioned_vhost(
        servers.amqp_url, servers.management_url, service_topologies()
    ) as urls:
        yield Imported(urls)
