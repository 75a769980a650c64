"""The payments service's composition root: its settings and ``build()``. Nothing runs at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from payments import api
from payments.handlers import HANDLERS
from payments.provider import DEFAULT_LIMIT, SimulatedProvider
from payments.store import PaymentStore
from shop_contracts.money import MinorUnits
from shop_contracts.payments import PaymentCaptured, PaymentDeclined, PaymentRefunded
from warren.db import migrations_in
from warren.runtime import Service, ServiceSettings, Subscription

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    """Payments' settings: the shared ones, this service's name and port, and its provider's.

    ``PAYMENT_LIMITS`` is JSON (``{"alice": 5000}``); ``PAYMENT_FAILURE_RATE`` (0..1) makes that
    fraction of provider calls fail transiently, to exercise retries; ``PAYMENT_LATENCY`` (seconds)
    is how long each provider call takes, to exercise captures that land after a deadline.
    """

    service: str = "payments"
    http_port: int = 8003
    payment_default_limit: MinorUnits = DEFAULT_LIMIT
    payment_limits: dict[str, MinorUnits] = Field(default_factory=dict)
    payment_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    payment_latency: float = Field(default=0.0, ge=0.0, le=60.0)


def build(settings: Settings | None = None) -> Service[PaymentStore]:
    """Assemble the payments service from ``settings`` (default: the environment)."""
    settings = settings or Settings()
    provider = SimulatedProvider(
        limits=settings.payment_limits,
        default_limit=settings.payment_default_limit,
        failure_rate=settings.payment_failure_rate,
        latency=settings.payment_latency,
    )
    return Service(
        settings=settings,
        store=PaymentStore,
        publishes=[PaymentCaptured, PaymentDeclined, PaymentRefunded],
        migrations=migrations_in(MIGRATIONS),
        subscriptions=[Subscription("charges", HANDLERS)],
        dependencies=[provider],
        router=api.router,
        title="Warren payments",
    )
