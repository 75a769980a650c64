"""Local development convenience: create the configured vhost if it is missing.

Uses the management API with the AMQP URL's credentials; only ever called in development, never in
production, where vhosts come from definitions.json or the topology operator.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import structlog

from warren.messaging.url import management_of, vhost_of

log = structlog.get_logger(__name__)


async def ensure_vhost(amqp_url: str, management_url: str) -> None:
    """PUT the vhost of ``amqp_url`` and grant its user all on it; log and go on if impossible."""
    vhost = vhost_of(amqp_url)
    base, (user, password) = management_of(amqp_url, management_url)
    name = quote(vhost, safe="")
    try:
        async with httpx.AsyncClient(base_url=base, auth=(user, password), timeout=10) as http:
            (await http.put(f"/api/vhosts/{name}", json={})).raise_for_status()
            permissions = {"configure": ".*", "write": ".*", "read": ".*"}
            url = f"/api/permissions/{name}/{quote(user, safe='')}"
            (await http.put(url, json=permissions)).raise_for_status()
    except httpx.HTTPError as error:
        log.warning("could not ensure the vhost exists", vhost=vhost, error=repr(error))
