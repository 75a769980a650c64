"""The suite runs the production way: topology from definitions.json, each service as its own
least-privilege user (ENVIRONMENT=production refuses guest), and the saga still completes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from warren.cli._project import load_project
from warren.cli._topology import service_topologies
from warren.runtime import Suite
from warren.testing import Servers, drop_databases, free_ports, provisioned_vhost, wait_until

SERVICES = load_project(Path(__file__).parent).services  # [tool.warren], in start order


@pytest.fixture
async def production_suite(servers: Servers, tmp_path) -> AsyncIterator[Suite]:
    prefix = f"warren_prod_{uuid.uuid4().hex[:8]}_"
    async with provisioned_vhost(
        servers.amqp_url, servers.management_url, service_topologies()
    ) as urls:
        env = {
            "DATABASE_URL": servers.database_url,
            "DATABASE_PREFIX": prefix,
            "ENVIRONMENT": "production",
            "LOG_FORMAT": "json",
        }
        suite = Suite(SERVICES, env=env, ports=free_ports(SERVICES), log_dir=tmp_path)
        try:
            for name in SERVICES:
                await suite.start_one(name, env={"AMQP_URL": urls[name]})
            yield suite
        finally:
            await suite.stop()
            await drop_databases(servers.database_url, prefix)


async def test_services_run_as_their_own_users_and_complete_the_saga(production_suite) -> None:
    orders = production_suite.services["orders"].url
    async with httpx.AsyncClient(base_url=orders, timeout=10) as http:
        placed = await http.post(
            "/orders",
            json={
                "customer_id": "grace",
                "currency": "EUR",
                "lines": [{"sku": "TEA-GREEN", "quantity": 1}],
            },
        )
        assert placed.status_code == 202

        async def confirmed() -> bool:
            order = (await http.get(placed.headers["location"])).json()
            return bool(order["status"] == "confirmed")

        assert await wait_until(confirmed, timeout=20, what="order confirmed")


async def test_production_refuses_the_guest_user(servers: Servers, tmp_path) -> None:
    suite = Suite(
        ["orders"],
        env={
            "AMQP_URL": servers.amqp_url,
            "ENVIRONMENT": "production",
            "DATABASE_URL": servers.database_url,
        },
        ports=free_ports(["orders"]),
        log_dir=tmp_path,
    )
    with pytest.raises(RuntimeError, match="exited"):
        await suite.start(timeout=20)
    await suite.stop()
    assert "guest" in (tmp_path / "orders.log").read_text()
