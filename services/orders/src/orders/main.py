"""The orders service's composition root: its settings and ``build()``. Nothing runs at import."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field

from orders import api, deadline, domain, keys
from orders.handlers import HANDLERS, PRICE_HANDLERS
from orders.store import OrderStore
from shop_contracts.orders import OrderCancelled, OrderConfirmed, OrderPlaced
from warren.db import migrations_in
from warren.runtime import Service, ServiceSettings, Subscription

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    """Orders' settings: the shared ones, this service's name and port, and the saga deadline.

    ``ORDER_DEADLINE`` (seconds, default 15 minutes) is how long an order may stay
    open: past it, the order is cancelled (``deadline_exceeded``). Keep it longer than a payment's
    whole retry budget (the sum of ``RETRY_DELAYS`` plus the provider's time), or orders whose
    payment would still have gone through are cancelled (and a late capture refunded).

    ``IDEMPOTENCY_TTL`` (seconds, default 24 hours) is how long an ``Idempotency-Key`` is
    remembered: a replay within it gets the first answer, a request after it places a new order.
    """

    service: str = "orders"
    http_port: int = 8001
    order_deadline: float = Field(default=900.0, gt=0, le=7 * 24 * 3600)
    # How long an Idempotency-Key is remembered (seconds, default 24 h); then forgotten.
    idempotency_ttl: float = Field(default=24 * 3600.0, ge=60, le=30 * 24 * 3600)


def build(settings: Settings | None = None) -> Service[OrderStore]:
    """Assemble the orders service from ``settings`` (default: the environment)."""
    settings = settings or Settings()
    due = domain.Deadline(timedelta(seconds=settings.order_deadline))
    return Service(
        settings=settings,
        store=OrderStore,
        publishes=[OrderPlaced, OrderConfirmed, OrderCancelled],
        migrations=migrations_in(MIGRATIONS),
        subscriptions=[Subscription("saga", HANDLERS), Subscription("prices", PRICE_HANDLERS)],
        router=api.router,
        dependencies=[due],
        background=[
            deadline.sweeping(due),
            keys.forgetting(timedelta(seconds=settings.idempotency_ttl)),
        ],
        title="Warren orders",
    )
