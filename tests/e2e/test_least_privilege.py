"""The suite runs the production way: topology from definitions.json, each service as its own
least-privilege user (ENVIRONMENT=production refuses guest, and a missing or development token
issuer), and the saga still completes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from warren.cli._project import load_project
from warren.cli._topology import service_topologies
from warren.runtime import Issuer
from warren.runtime.suite import Suite
from warren.testing import Servers, drop_databases, free_ports, provisioned_vhost, wait_until

SERVICES = load_project(Path(__file__).parent).services  # [tool.warren], in start order


@pytest.fixture
async def production_suite(servers: Servers, tmp_path, issuer: Issuer) -> AsyncIterator[Suite]:
    prefix = f"warren_prod_{uuid.uuid4().hex[:8]}_"
    async with provisioned_vhost(
        servers.amqp_url, servers.management_url, service_topologies()
    ) as urls:
        env = {
            "DATABASE_URL": servers.database_url,
            "DATABASE_PREFIX": prefix,
            "ENVIRONMENT": "production",
            "LOG_FORMAT": "json",
            **issuer.settings(),
        }
        ports = free_ports([*SERVICES, *(f"{name}-metrics" for name in SERVICES)])
        metrics_ports = {name: ports[f"{name}-metrics"] for name in SERVICES}
        suite = Suite(SERVICES, env=env, ports=ports, metrics_ports=metrics_ports, log_dir=tmp_path)
        try:
            for name in SERVICES:
                await suite.start_one(name, env={"AMQP_URL": urls[name]})
            yield suite
        finally:
            await suite.stop()
            await drop_databases(servers.database_url, prefix)


async def test_services_run_as_their_own_users_and_complete_the_saga(
    production_suite, issuer: Issuer
) -> None:
    orders = production_suite.services["orders"].url
    grace = {"Authorization": f"Bearer {issuer.token('grace', ['orders:write', 'orders:read'])}"}
    async with httpx.AsyncClient(base_url=orders, timeout=10, headers=grace) as http:
        placed = await http.post(
            "/orders",
            json={
                "currency": "EUR",
                "lines": [{"sku": "TEA-GREEN", "quantity": 1}],
            },
        )
        assert placed.status_code == 202

        async def confirmed() -> bool:
            order = (await http.get(placed.headers["location"])).json()
            return bool(order["status"] == "confirmed")

        assert await wait_until(confirmed, timeout=20, what="order confirmed")


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/"}, "guest"),
        ({"AUTH_ISSUER": ""}, "production needs a token issuer"),
        ({"AUTH_ISSUER": "warren-dev"}, "development issuer"),
    ],
    ids=["guest", "no issuer", "dev issuer"],
)
async def test_production_refuses_to_start(
    servers: Servers, tmp_path, issuer: Issuer, settings: dict[str, str], reason: str
) -> None:
    env = {
        "AMQP_URL": "amqp://warren-orders:x@127.0.0.1:5672/warren",
        "ENVIRONMENT": "production",
        "DATABASE_URL": servers.database_url,
        **issuer.settings(),
        **settings,
    }
    ports = free_ports(["orders", "metrics"])
    suite = Suite(
        ["orders"],
        env=env,
        ports={"orders": ports["orders"]},
        metrics_ports={"orders": ports["metrics"]},
        log_dir=tmp_path,
    )
    with pytest.raises(RuntimeError, match="exited"):
        await suite.start(timeout=20)
    await suite.stop()
    assert reason in (tmp_path / "orders.log").read_text()
