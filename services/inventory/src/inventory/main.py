"""The inventory service's composition root: its settings, ``build()`` and the start-up seeding.

Nothing runs at import. Seeding stocks and prices the catalogue's missing SKUs when the service
starts, so a new user's first order finds stock and a price; it never overwrites a level or a
price someone has set. Each start then announces every SKU's current price (``product.priced``,
its revision unchanged), so a consumer that missed an announcement — its queue declared after the
price was set, say — catches up at inventory's next start, and one that has it ignores it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from pydantic import Field

from inventory import api, domain
from inventory.handlers import HANDLERS
from inventory.store import StockStore
from shop_contracts.money import Money, Sku
from shop_contracts.products import ProductPriced
from shop_contracts.stock import StockRejected, StockReleased, StockReserved
from warren.contracts.event import Event
from warren.db import migrations_in
from warren.runtime import Runtime, Service, ServiceSettings, Subscription

MIGRATIONS = Path(__file__).parent / "migrations"

CATALOGUE = {"TEA-GREEN": 100, "TEA-BLACK": 100, "MUG-BLUE": 25, "TEAPOT-CAST-IRON": 5}
"""What a fresh inventory stocks: enough for the demo's orders, few teapots to run out of."""

PRICES = {"TEA-GREEN": 1250, "TEA-BLACK": 1190, "MUG-BLUE": 499, "TEAPOT-CAST-IRON": 8900}
"""What a fresh inventory sells them for, in euro cents."""

StartHook = Callable[[Runtime[StockStore]], Awaitable[None]]


class Settings(ServiceSettings):
    """Inventory's settings: the shared ones, its name and port, and the stock to seed."""

    service: str = "inventory"
    http_port: int = 8002
    seed_stock: dict[Sku, Annotated[int, Field(ge=0, le=domain.MAX_LEVEL)]] = Field(
        default_factory=lambda: dict(CATALOGUE),
        description="SKU -> units stocked at start-up if the SKU is missing (SEED_STOCK, JSON)",
    )
    seed_prices: dict[Sku, Money] = Field(
        default_factory=lambda: {
            sku: Money(amount=cents, currency="EUR") for sku, cents in PRICES.items()
        },
        description="SKU -> unit price set at start-up if the SKU has none (SEED_PRICES, JSON "
        '{"TEA-GREEN": {"amount": 1250, "currency": "EUR"}})',
    )


def build(settings: Settings | None = None) -> Service[StockStore]:
    """Assemble the inventory service from ``settings`` (default: the environment)."""
    settings = settings or Settings()
    return Service(
        settings=settings,
        store=StockStore,
        publishes=[StockReserved, StockRejected, StockReleased, ProductPriced],
        migrations=migrations_in(MIGRATIONS),
        subscriptions=[Subscription("reservations", HANDLERS)],
        router=api.router,
        on_start=[seeding(settings.seed_stock, settings.seed_prices)],
        title="Warren inventory",
    )


def seeding(levels: Mapping[str, int], prices: Mapping[str, Money] | None = None) -> StartHook:
    """A start hook that stocks the SKUs of ``levels`` not stocked yet, prices those of ``prices``
    that have no price yet, and announces every SKU's current price."""

    async def seed_catalogue(runtime: Runtime[StockStore]) -> None:
        await runtime.writer.execute(seed_stock, levels)
        await runtime.writer.execute(seed_prices, prices or {})

    return seed_catalogue


async def seed_stock(levels: Mapping[str, int], store: StockStore) -> list[Event]:
    """Stock the SKUs missing from ``levels``; leave every existing level as it is."""
    await store.add_missing(levels)
    return []


async def seed_prices(prices: Mapping[str, Money], store: StockStore) -> list[Event]:
    """Price the SKUs of ``prices`` that have none (revision 1); announce every current price."""
    at = datetime.now(UTC)
    await store.add_missing_prices(
        domain.Price(sku, price, revision=1, priced_at=at) for sku, price in prices.items()
    )
    return domain.announce(await store.list_prices())
