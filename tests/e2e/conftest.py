"""The whole suite as real processes on a fresh vhost and fresh databases, and a shop client.

The e2e tests read like the saga: place an order, wait (bounded) for how it ends, look at what each
service recorded. The client hides HTTP and tokens (a customer's to order, an operator's to look);
the tap sees every event on the wire.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shop_contracts.catalogue import REGISTRY
from warren.cli._project import load_project
from warren.runtime import Issuer
from warren.runtime.suite import Suite
from warren.testing import EventTap, Servers, drop_databases, free_ports, fresh_vhost, wait_until

# The suite's one list ([tool.warren] services), in its start order: consumers first, so every
# queue exists before the first event (orders before inventory: its price queue is there when
# inventory announces the catalogue's prices at start-up).
SERVICES = load_project(Path(__file__).parent).services
EXCHANGES = tuple(sorted({f"{event.producer}.events" for event in REGISTRY}))
TERMINAL = {"confirmed", "cancelled"}
PAYMENT_LIMITS = '{"bob": 1000}'
"""``bob`` is declined above 10.00 EUR (one TEA-BLACK costs 11.90), everyone else at 1000 EUR."""


class Shop:
    """A customer's and an operator's view of the running suite, over HTTP."""

    def __init__(
        self,
        suite: Suite,
        prefix: str,
        server_url: str,
        issuer: Issuer,
        operator_token: str,
        amqp_url: str = "",
    ) -> None:
        self.suite = suite
        self.prefix = prefix
        self.server_url = server_url
        self.issuer = issuer
        self.amqp_url = amqp_url
        operator = {"Authorization": f"Bearer {operator_token}"}
        self.http = {
            name: httpx.AsyncClient(base_url=s.url, timeout=10, headers=operator)
            for name, s in suite.services.items()
        }

    def auth(self, customer: str, *scopes: str) -> dict[str, str]:
        """The Authorization header of ``customer`` (default scopes: order and read orders)."""
        token = self.issuer.token(customer, scopes or ("orders:write", "orders:read"))
        return {"Authorization": f"Bearer {token}"}

    async def place_order(self, customer: str, lines: list[dict[str, Any]], **kw: Any) -> str:
        """POST /orders with ``lines`` of sku + quantity (prices are the catalogue's); its id."""
        response = await self.post_order(customer, lines, **kw)
        assert response.status_code == 202, response.text
        return str(response.json()["order_id"])

    async def post_order(
        self, customer: str, lines: list[dict[str, Any]], **kw: Any
    ) -> httpx.Response:
        """POST /orders, whatever it answers."""
        body = {"currency": "EUR", "lines": lines, **kw}
        return await self.http["orders"].post("/orders", json=body, headers=self.auth(customer))

    async def order(self, order_id: str) -> dict[str, Any]:
        """GET /orders/{id}."""
        response = await self.http["orders"].get(f"/orders/{order_id}")
        response.raise_for_status()
        return dict(response.json())

    async def outcome(self, order_id: str, timeout: float = 15.0) -> dict[str, Any]:
        """The order once it reached a terminal state (at most ``timeout`` s)."""

        async def terminal() -> dict[str, Any] | None:
            order = await self.order(order_id)
            return order if order["status"] in TERMINAL else None

        found: dict[str, Any] = await wait_until(
            terminal, timeout=timeout, interval=0.1, what=f"order {order_id} terminal"
        )
        return found

    async def stock(self, sku: str) -> dict[str, Any]:
        """GET /stock/{sku}."""
        response = await self.http["inventory"].get(f"/stock/{sku}")
        response.raise_for_status()
        return dict(response.json())

    async def set_stock(self, sku: str, available: int, price: int | None = None) -> None:
        """PUT /stock/{sku}, with a unit price in euro cents if ``price`` is given."""
        body: dict[str, Any] = {"available": available}
        if price is not None:
            body["price"] = {"amount": price, "currency": "EUR"}
        response = await self.http["inventory"].put(f"/stock/{sku}", json=body)
        response.raise_for_status()

    async def wait_priced(self, sku: str, amount: int, timeout: float = 10.0) -> None:
        """Until orders prices ``sku`` at ``amount`` (it learns prices from product.priced)."""

        async def priced() -> bool:
            rows = await self.sql("orders", "SELECT amount FROM prices WHERE sku = $1", sku)
            return bool(rows) and rows[0]["amount"] == amount

        await wait_until(priced, timeout=timeout, interval=0.1, what=f"orders prices {sku}")

    async def payment(self, order_id: str) -> dict[str, Any] | None:
        """GET /payments/{order_id}, None on 404."""
        response = await self.http["payments"].get(f"/payments/{order_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    async def notifications(self, order_id: str) -> list[dict[str, Any]]:
        """GET /notifications?order_id=..."""
        response = await self.http["notifications"].get(
            "/notifications", params={"order_id": order_id}
        )
        response.raise_for_status()
        return list(response.json())

    async def sql(self, service: str, query: str, *args: Any) -> list[asyncpg.Record]:
        """Run ``query`` on ``service``'s own database (to check what HTTP does not show)."""
        url = self.server_url.rsplit("/", 1)[0] + f"/{self.prefix}{service}"
        conn = await asyncpg.connect(url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    def tap(self) -> EventTap:
        """``async with shop.tap() as events``: every event published on this suite from now on."""
        return EventTap(self.amqp_url, EXCHANGES)

    async def close(self) -> None:
        for client in self.http.values():
            await client.aclose()


@pytest.fixture(scope="session")
async def suite_vhost(servers: Servers) -> AsyncIterator[str]:
    async with fresh_vhost(servers.amqp_url, servers.management_url, prefix="warren-e2e") as url:
        yield url


@pytest.fixture(scope="session")
async def shop(
    servers: Servers, suite_vhost: str, tmp_path_factory, issuer: Issuer, operator_token: str
) -> AsyncIterator[Shop]:
    """The four services running as processes for the whole e2e session."""
    logs = tmp_path_factory.mktemp("suite-logs")
    async with running_shop(servers, suite_vhost, logs, issuer, operator_token) as client:
        yield client


@asynccontextmanager
async def running_shop(
    servers: Servers,
    vhost_url: str,
    logs: Path,
    issuer: Issuer,
    operator_token: str,
    *,
    services: Sequence[str] = SERVICES,
    **settings: str,
) -> AsyncIterator[Shop]:
    """The project's services (or ``services``) as processes on ``vhost_url`` and fresh
    databases, with ``settings`` (environment variables, e.g. ``ORDER_DEADLINE="3"``) over the
    e2e defaults."""
    prefix = f"warren_e2e_{uuid.uuid4().hex[:8]}_"
    env = {
        "AMQP_URL": vhost_url,
        "DATABASE_URL": servers.database_url,
        "DATABASE_PREFIX": prefix,
        "RABBITMQ_MANAGEMENT_URL": servers.management_url,
        "ENVIRONMENT": "test",
        "LOG_FORMAT": "json",
        "RETRY_DELAYS": "[0.1, 0.2, 0.4, 0.8, 1, 1, 1, 1]",
        "DRAIN_TIMEOUT": "5",
        "PAYMENT_LIMITS": PAYMENT_LIMITS,
        **issuer.settings(),
        **settings,
    }
    ports = free_ports([*services, *(f"{name}-metrics" for name in services)])
    suite = Suite(
        services,
        env=env,
        ports=ports,
        metrics_ports={name: ports[f"{name}-metrics"] for name in services},
        log_dir=logs,
    )
    try:
        await suite.start(timeout=90)
        client = Shop(suite, prefix, servers.database_url, issuer, operator_token, vhost_url)
        yield client
        await client.close()
    finally:
        await suite.stop()
        await drop_databases(servers.database_url, prefix)


@pytest.fixture
def start_shop(
    servers: Servers, tmp_path: Path, issuer: Issuer, operator_token: str
) -> Callable[..., AbstractAsyncContextManager[Shop]]:
    """``async with start_shop(ORDER_DEADLINE="3") as shop``: a suite of its own, on a vhost and
    databases of its own, configured with these settings (for what the shared suite must not be)."""

    @asynccontextmanager
    async def start(**settings: str) -> AsyncIterator[Shop]:
        logs = tmp_path / f"suite-logs-{uuid.uuid4().hex[:6]}"
        logs.mkdir()
        async with (
            fresh_vhost(servers.amqp_url, servers.management_url, prefix="warren-e2e") as url,
            running_shop(servers, url, logs, issuer, operator_token, **settings) as shop,
        ):
            yield shop

    return start


@pytest.fixture
async def tap(suite_vhost: str, shop: Shop) -> AsyncIterator[EventTap]:
    """Every event published during one test."""
    async with EventTap(suite_vhost, EXCHANGES) as events:
        yield events
