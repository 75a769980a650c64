"""The dashboards and the DLQ alert against a real Prometheus scraping the running suite.

Prometheus (Debian's binary, installed by infra/local/ensure-promtool) scrapes every service's
metrics port and RabbitMQ's per-object endpoint every second and evaluates the shipped alert
rules. The test drives what each panel shows — orders of every outcome, transient provider
failures (retries), a duplicate delivery (the inbox), a poison message (the DLQ), a 404 — and
then asks Prometheus every query of every generated dashboard: each must return series. The DLQ
alert must go pending after the poison message and clear once the DLQ is purged.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import httpx
import pytest
import yaml

from shop_contracts.catalogue import REGISTRY
from tests.e2e.conftest import Shop, running_shop
from warren.cli._dashboards import panels
from warren.runtime import Issuer
from warren.runtime.suite import Suite
from warren.testing import EventTap, Servers, free_ports, fresh_vhost, wait_until

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "infra" / "prometheus" / "alerts.yml"
DASHBOARDS = ROOT / "infra" / "grafana" / "dashboards"
EXCHANGES = sorted({f"{event.producer}.events" for event in REGISTRY})
DLQ_ALERT = "WarrenDeadLetterQueueNotEmpty"


@pytest.fixture(scope="module")
async def flaky_shop(
    servers: Servers, issuer: Issuer, operator_token: str, tmp_path_factory: Any
) -> AsyncIterator[tuple[Shop, Suite, str]]:
    """The suite with a provider that fails half its calls (so retries show), on its own vhost."""
    logs = tmp_path_factory.mktemp("prometheus-suite-logs")
    async with (
        fresh_vhost(servers.amqp_url, servers.management_url, prefix="warren-prom") as url,
        running_shop(
            servers,
            url,
            logs,
            issuer,
            operator_token,
            RETRY_DELAYS="[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]",
            PAYMENT_FAILURE_RATE="0.5",
        ) as shop,
    ):
        yield shop, shop.suite, url


@pytest.fixture(scope="module")
def prometheus(flaky_shop: tuple[Shop, Suite, str], tmp_path_factory: Any) -> Iterator[str]:
    """A real Prometheus scraping the suite and RabbitMQ every second; its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the prometheus binary is missing: run infra/local/ensure-promtool")
    _, suite, url = flaky_shop
    folder = tmp_path_factory.mktemp("prometheus")
    shutil.copy(RULES, folder / "alerts.yml")
    broker = urlsplit(url).hostname or "127.0.0.1"
    jobs = [
        {
            "job_name": f"warren-{service.name}",
            "static_configs": [{"targets": [f"127.0.0.1:{service.metrics_port}"]}],
        }
        for service in suite.services.values()
    ]
    jobs.append(
        {
            "job_name": "warren-rabbitmq",
            "metrics_path": "/metrics/per-object",
            "static_configs": [{"targets": [f"{broker}:15692"]}],
        }
    )
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": jobs,
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    (port,) = free_ports(["prometheus"]).values()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "prometheus.log").open("w"),
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


async def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{prometheus}/api/v1/query", params={"query": expr})
    if response.status_code != 200:
        return []
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


async def _alerts(prometheus: str, name: str, vhost: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{prometheus}/api/v1/alerts")
    return [
        alert
        for alert in response.json()["data"]["alerts"]
        if alert["labels"]["alertname"] == name and alert["labels"].get("vhost") == vhost
    ]


async def _drive(shop: Shop, url: str) -> None:
    """Orders of every outcome (through the flaky provider), a duplicate, a poison, a 404."""
    async with EventTap(url, EXCHANGES) as tap:
        placed = [
            await shop.place_order("alice", [{"sku": "TEA-GREEN", "quantity": 1}]),
            await shop.place_order("bob", [{"sku": "TEA-BLACK", "quantity": 90}]),
            await shop.place_order("carol", [{"sku": "TEAPOT-CAST-IRON", "quantity": 999}]),
            *[
                await shop.place_order("dave", [{"sku": "MUG-BLUE", "quantity": 1}])
                for _ in range(4)
            ],
        ]
        for order_id in placed:
            await shop.outcome(order_id, timeout=60)
        first = tap.about(placed[0])[0]
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        again = await channel.get_exchange(first.exchange)
        await again.publish(  # the same message id again: the inbox must skip it
            aio_pika.Message(
                first.envelope.model_dump_json().encode(),
                message_id=first.envelope.id,
                type=first.envelope.type,
                app_id=first.app_id,
                correlation_id=first.correlation_id,
                content_type="application/cloudevents+json",
            ),
            routing_key=first.routing_key,
        )
        poison_type = next(e.type for e in REGISTRY if e.producer == "inventory")
        inventory = await channel.get_exchange("inventory.events")
        await inventory.publish(
            aio_pika.Message(b"{not an event", type=poison_type, app_id="inventory"),
            routing_key=poison_type,
        )
    missing = await shop.http["orders"].get(f"/orders/{uuid.uuid4()}")
    assert missing.status_code == 404


async def test_every_panel_has_series_and_the_dlq_alert_fires_then_clears(
    flaky_shop: tuple[Shop, Suite, str], prometheus: str
) -> None:
    shop, _, url = flaky_shop
    vhost = urlsplit(url).path[1:]
    await _drive(shop, url)
    queries = {
        f"{board.stem}: {panel['title']} [{target['refId']}]": target["expr"].replace(
            "$__rate_interval", "1m"
        )
        for board in sorted(DASHBOARDS.glob("*.json"))
        for panel in panels(json.loads(board.read_text()))
        for target in panel["targets"]
    }
    assert len(queries) > 15

    empty: list[str] = []

    async def every_panel_has_series() -> bool:
        empty[:] = [name for name, expr in queries.items() if not await _query(prometheus, expr)]
        return not empty

    try:
        await wait_until(every_panel_has_series, timeout=120, interval=2, what="every panel")
    except TimeoutError:
        pytest.fail(f"panels without series: {empty}")

    pending = await wait_until(
        lambda: _alerts(prometheus, DLQ_ALERT, vhost), timeout=60, interval=1, what=DLQ_ALERT
    )
    assert {alert["state"] for alert in pending} <= {"pending", "firing"}
    dlqs = {alert["labels"]["queue"] for alert in pending}
    for queue in dlqs:
        purged = await asyncio.to_thread(
            subprocess.run,
            [Path(sys.executable).with_name("warren"), "dlq", "purge", queue, "--yes"],
            env={"AMQP_URL": url, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert purged.returncode == 0, purged.stdout + purged.stderr

    async def cleared() -> bool:
        return not await _alerts(prometheus, DLQ_ALERT, vhost)

    await wait_until(cleared, timeout=60, interval=1, what=f"{DLQ_ALERT} cleared")
