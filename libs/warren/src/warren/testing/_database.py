"""Throwaway PostgreSQL databases: created on the server, dropped (forcibly) after.

Owns database lifecycle for tests; applies no schema.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def database_url(server_url: str, name: str) -> str:
    """``server_url`` pointing at database ``name``."""
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


@asynccontextmanager
async def fresh_database(server_url: str, prefix: str = "warren_test") -> AsyncIterator[str]:
    """Create a uniquely named database, yield its URL, drop it (even with open sessions)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield database_url(server_url, name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def drop_databases(server_url: str, prefix: str) -> None:
    """Drop every database whose name starts with ``prefix`` (a suite's per-service databases)."""
    admin = await asyncpg.connect(server_url)
    try:
        names = await admin.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
        )
        for row in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await admin.close()
