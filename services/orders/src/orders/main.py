"""The orders service's composition root: its settings and ``build()``. Nothing runs at import."""

from __future__ import annotations

from pathlib import Path

from orders import api
from orders.handlers import HANDLERS, PRICE_HANDLERS
from orders.store import OrderStore
from shop_contracts.orders import OrderCancelled, OrderConfirmed, OrderPlaced
from warren.db import migrations_in
from warren.runtime import Service, ServiceSettings, Subscription

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    """Orders' settings: the shared ones with this service's name and port."""

    service: str = "orders"
    http_port: int = 8001


def build(settings: Settings | None = None) -> Service[OrderStore]:
    """Assemble the orders service from ``settings`` (default: the environment)."""
    return Service(
        settings=settings or Settings(),
        store=OrderStore,
        publishes=[OrderPlaced, OrderConfirmed, OrderCancelled],
        migrations=migrations_in(MIGRATIONS),
        subscriptions=[Subscription("saga", HANDLERS), Subscription("prices", PRICE_HANDLERS)],
        router=api.router,
        title="Warren orders",
    )
