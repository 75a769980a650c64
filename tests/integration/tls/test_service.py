"""A saga step over TLS: the real inventory service (``python -m inventory``) runs against the
TLS-only RabbitMQ and PostgreSQL with its broker and database verified, becomes ready, consumes
``order.placed`` and publishes its answer through the outbox relay."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tls_setup import Pki, amqp_url, database_url

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from tests.harness import PostgresCluster, RabbitCluster
from warren.messaging import Broker
from warren.runtime.suite import Suite
from warren.testing import EventTap, free_ports, wait_until

PLACED = REGISTRY.resolve("order.placed.v1")


@pytest.fixture
async def inventory(
    rabbit: RabbitCluster, postgres: PostgresCluster, pki: Pki, tmp_path: Path
) -> AsyncIterator[Suite]:
    env = {
        "ENVIRONMENT": "test",
        "AMQP_URL": amqp_url(rabbit, cafile=pki.ca),
        "DATABASE_URL": database_url(postgres, sslmode="verify-full", sslrootcert=str(pki.ca)),
        "DATABASE_PREFIX": f"tls_{uuid.uuid4().hex[:6]}_",
        "OTEL_TRACES_EXPORTER": "none",
    }
    suite = Suite(["inventory"], env=env, ports=free_ports(["inventory"]), log_dir=tmp_path)
    try:
        await suite.start(timeout=60)
        yield suite
    finally:
        await suite.stop()


async def test_a_service_answers_an_event_over_tls_to_both_servers(
    inventory: Suite, rabbit: RabbitCluster, pki: Pki
) -> None:
    url = amqp_url(rabbit, cafile=pki.ca)
    order_id = uuid.uuid4()
    async with EventTap(url, ["inventory.events"]) as tap:
        orders = Broker(url, "orders")
        await orders.connect(timeout=10)
        try:
            await orders.publish(example(PLACED, order_id=order_id), correlation_id=str(order_id))
        finally:
            await orders.close()

        async def answered() -> list[str]:
            return tap.types_about(str(order_id))

        answer = await wait_until(answered, timeout=20, what="inventory's answer")
        assert answer[0] in ("stock.reserved.v1", "stock.rejected.v1")
