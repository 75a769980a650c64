"""Local development convenience: create the configured vhost if it is missing.

Uses the management API with the AMQP URL's credentials; only ever called in development, never in
production, where vhosts come from definitions.json or the topology operator.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

import httpx
import structlog

log = structlog.get_logger(__name__)


async def ensure_vhost(amqp_url: str, management_url: str) -> None:
    """PUT the vhost of ``amqp_url`` and grant its user all on it; log and go on if impossible."""
    parts = urlsplit(amqp_url)
    vhost = unquote(parts.path[1:]) or "/"
    user = unquote(parts.username or "guest")
    base = management_url or f"http://{parts.hostname or 'localhost'}:15672"
    name = quote(vhost, safe="")
    try:
        async with httpx.AsyncClient(
            base_url=base, auth=(user, unquote(parts.password or "guest")), timeout=10
        ) as http:
            (await http.put(f"/api/vhosts/{name}", json={})).raise_for_status()
            permissions = {"configure": ".*", "write": ".*", "read": ".*"}
            url = f"/api/permissions/{name}/{quote(user, safe='')}"
            (await http.put(url, json=permissions)).raise_for_status()
    except httpx.HTTPError as error:
        log.warning("could not ensure the vhost exists", vhost=vhost, error=repr(error))
