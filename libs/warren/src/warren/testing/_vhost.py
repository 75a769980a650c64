"""Throwaway RabbitMQ vhosts: created through the management API, deleted after, never reused.

Owns vhost lifecycle for tests; declares nothing inside the vhost.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import httpx

from warren.messaging.url import credentials, vhost_url


@asynccontextmanager
async def fresh_vhost(
    amqp_url: str, management_url: str, prefix: str = "warren-test"
) -> AsyncIterator[str]:
    """Create a unique vhost, grant the URL's user all on it, yield its AMQP URL, delete it."""
    user, password = credentials(amqp_url)
    vhost = f"{prefix}-{uuid.uuid4().hex[:12]}"
    name = quote(vhost, safe="")
    async with httpx.AsyncClient(
        base_url=management_url, auth=(user, password), timeout=30
    ) as http:
        response = await http.put(f"/api/vhosts/{name}", json={})
        response.raise_for_status()
        response = await http.put(
            f"/api/permissions/{name}/{quote(user, safe='')}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
        )
        response.raise_for_status()
        try:
            yield vhost_url(amqp_url, vhost)
        finally:
            await http.delete(f"/api/vhosts/{name}")
