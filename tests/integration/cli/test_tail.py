"""``warren tail``: every event the project's services publish, one line each, as it goes by."""

from __future__ import annotations

import asyncio
import os
from urllib.parse import quote, urlsplit

import httpx

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from tests.integration.cli.conftest import Cli
from warren.messaging import Broker
from warren.testing import wait_until


async def test_tail_prints_each_event_with_its_id_type_correlation_and_publisher(
    cli: Cli, vhost_url: str
) -> None:
    events = [example(event_class) for event_class in REGISTRY]
    producers = {event.producer: Broker(vhost_url, event.producer) for event in events}
    for broker in producers.values():
        await broker.connect()
        await broker.declare()  # the producer's exchange
    try:
        watching = asyncio.create_task(
            cli("tail", "--amqp-url", vhost_url, "--count", str(len(events)), "--seconds", "20")
        )
        await wait_until(
            lambda: _bound(vhost_url, list(producers)), timeout=15, what="tail's queue bound"
        )
        ids = [await producers[event.producer].publish(event) for event in events]
        result = await asyncio.wait_for(watching, timeout=30)
    finally:
        for broker in producers.values():
            await broker.close()

    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if " id=" in line]
    assert len(lines) == len(events)
    for event, message_id, printed in zip(events, ids, lines, strict=True):
        assert event.type in printed
        assert f"id={message_id}" in printed
        assert f"corr={event.subject}" in printed
        assert printed.endswith(f"from {event.producer}")


async def _bound(vhost_url: str, services: list[str]) -> bool:
    """Whether every producer's exchange has a binding (tail's queue; nothing else binds here)."""
    url = urlsplit(vhost_url)
    api = os.environ.get("RABBITMQ_MANAGEMENT_URL", f"http://{url.hostname}:15672")
    vhost = quote(url.path[1:], safe="")
    async with httpx.AsyncClient(auth=(url.username or "", url.password or "")) as http:
        for service in services:
            response = await http.get(
                f"{api}/api/exchanges/{vhost}/{service}.events/bindings/source"
            )
            if response.status_code != 200 or not response.json():
                return False
    return True
