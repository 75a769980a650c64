"""A vhost provisioned the production way: definitions imported, one least-privilege user per
service, each service given an AMQP URL with its own credentials. Removed (vhost and users) after.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from urllib.parse import quote, urlsplit

import httpx

from warren.messaging.definitions import ServiceTopology, definitions, user_name
from warren.messaging.url import credentials, vhost_url


@asynccontextmanager
async def provisioned_vhost(
    amqp_url: str, management_url: str, services: Sequence[ServiceTopology]
) -> AsyncIterator[dict[str, str]]:
    """Import definitions for ``services`` into a new vhost; yield service -> its own AMQP URL."""
    tag = uuid.uuid4().hex[:8]
    vhost, prefix = f"warren-provisioned-{tag}", f"warren-{tag}-"
    passwords = {t.service: uuid.uuid4().hex for t in services}
    document = definitions(vhost, services, user_prefix=prefix, passwords=passwords)
    parts = urlsplit(amqp_url)
    operator, password = credentials(amqp_url)
    auth = (operator, password)
    name = quote(vhost, safe="")
    async with httpx.AsyncClient(base_url=management_url, auth=auth, timeout=30) as api:
        (await api.post("/api/definitions", json=document)).raise_for_status()
        grant = {"configure": ".*", "write": ".*", "read": ".*"}  # the operator inspects/cleans
        (
            await api.put(f"/api/permissions/{name}/{quote(operator, safe='')}", json=grant)
        ).raise_for_status()
        host = f"{parts.hostname}:{parts.port or 5672}"
        urls = {
            t.service: vhost_url(
                parts._replace(
                    netloc=f"{user_name(t.service, prefix)}:{passwords[t.service]}@{host}"
                ).geturl(),
                vhost,
            )
            for t in services
        }
        try:
            yield urls
        finally:
            await api.delete(f"/api/vhosts/{name}")
            for topology in services:
                await api.delete(
                    f"/api/users/{quote(user_name(topology.service, prefix), safe='')}"
                )
