"""Fixtures for warren.db's integration tests: opened databases, and names of missing ones."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from warren.db import Database
from warren.testing import Servers


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """``Database.open`` on this test's fresh database, closed after the test."""
    opened = await Database.open(database_url)
    yield opened
    await opened.close()


@pytest.fixture
async def missing_database_url(servers: Servers) -> AsyncIterator[str]:
    """The URL of a database that does not exist yet; dropped after the test if it was made.

    The name has a hyphen and capitals, so opening it only works if warren.db quotes it.
    """
    name = f"warren-Missing-{uuid.uuid4().hex[:12]}"
    yield urlunsplit(urlsplit(servers.database_url)._replace(path="/" + name))
    admin = await asyncpg.connect(servers.database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
