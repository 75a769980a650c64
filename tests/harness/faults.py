"""Faults on purpose: force-close every client connection of a vhost, as an operator would.

Uses ``rabbitmqctl close_all_connections --vhost`` when the broker is local and the tool is
there, else the management API's DELETE /api/connections/{name}. Breaks; never repairs.
"""

from __future__ import annotations

import asyncio
import shutil
from urllib.parse import quote, unquote, urlsplit

import httpx


async def close_connections(amqp_url: str, management_url: str) -> None:
    """Close all client connections to the vhost of ``amqp_url``."""
    parts = urlsplit(amqp_url)
    vhost = unquote(parts.path[1:]) or "/"
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl and parts.hostname in {"127.0.0.1", "localhost"}:
        process = await asyncio.create_subprocess_exec(
            rabbitmqctl,
            "close_all_connections",
            "--vhost",
            vhost,
            "warren fault injection",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await process.communicate()
        if process.returncode == 0:
            return
        raise RuntimeError(f"rabbitmqctl close_all_connections failed: {stderr.decode()}")
    auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
    async with httpx.AsyncClient(base_url=management_url, auth=auth, timeout=30) as http:
        listed = await http.get(f"/api/vhosts/{quote(vhost, safe='')}/connections")
        listed.raise_for_status()
        for connection in listed.json():
            await http.delete(
                f"/api/connections/{quote(connection['name'], safe='')}",
                headers={"X-Reason": "warren fault injection"},
            )
