"""The inventory service's composition root: its settings, ``build()`` and the start-up seeding.

Nothing runs at import. Seeding stocks the catalogue's missing SKUs when the service starts, so a
new user's first order finds stock; it never overwrites a level someone has set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Annotated

from pydantic import Field

from inventory import api, domain
from inventory.handlers import HANDLERS
from inventory.store import StockStore
from shop_contracts.money import Sku
from shop_contracts.stock import StockRejected, StockReleased, StockReserved
from warren.contracts.event import Event
from warren.db import migrations_in
from warren.runtime import Runtime, Service, ServiceSettings, Subscription

MIGRATIONS = Path(__file__).parent / "migrations"

CATALOGUE = {"TEA-GREEN": 100, "TEA-BLACK": 100, "MUG-BLUE": 25, "TEAPOT-CAST-IRON": 5}
"""What a fresh inventory stocks: enough for the demo's orders, few teapots to run out of."""

StartHook = Callable[[Runtime[StockStore]], Awaitable[None]]


class Settings(ServiceSettings):
    """Inventory's settings: the shared ones, its name and port, and the stock to seed."""

    service: str = "inventory"
    http_port: int = 8002
    seed_stock: dict[Sku, Annotated[int, Field(ge=0, le=domain.MAX_LEVEL)]] = Field(
        default_factory=lambda: dict(CATALOGUE),
        description="SKU -> units stocked at start-up if the SKU is missing (SEED_STOCK, JSON)",
    )


def build(settings: Settings | None = None) -> Service[StockStore]:
    """Assemble the inventory service from ``settings`` (default: the environment)."""
    settings = settings or Settings()
    return Service(
        settings=settings,
        store=StockStore,
        publishes=[StockReserved, StockRejected, StockReleased],
        migrations=migrations_in(MIGRATIONS),
        subscriptions=[Subscription("reservations", HANDLERS)],
        router=api.router,
        on_start=[seeding(settings.seed_stock)],
        title="Warren inventory",
    )


def seeding(levels: Mapping[str, int]) -> StartHook:
    """A start hook that stocks the SKUs of ``levels`` not stocked yet."""

    async def seed_catalogue(runtime: Runtime[StockStore]) -> None:
        await runtime.writer.execute(seed_stock, levels)

    return seed_catalogue


async def seed_stock(levels: Mapping[str, int], store: StockStore) -> list[Event]:
    """Stock the SKUs missing from ``levels``; leave every existing level as it is."""
    await store.add_missing(levels)
    return []
