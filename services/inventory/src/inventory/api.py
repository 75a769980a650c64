"""The inventory HTTP API: read stock levels and prices, set them. No SQL, no AMQP.

Setting a level (and a price) goes through the same write path as the handlers (domain -> store ->
outbox, one transaction), so it queues behind any reservation holding that SKU's row, and a new
price is announced (``product.priced``) exactly when it is stored. Reading needs the
``stock:read`` scope, setting ``stock:write`` (a stock-keeper's, not a customer's).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from inventory import domain
from inventory.store import StockStore
from shop_contracts.money import Money, Sku
from warren import runtime
from warren.contracts.event import Event

Store = Annotated[StockStore, Depends(runtime.store)]
Writer = Annotated[runtime.Writer[StockStore], Depends(runtime.writer)]
SkuPath = Annotated[Sku, Path(description="stock-keeping unit, e.g. TEA-GREEN")]
Reading = Annotated[runtime.Principal, runtime.Scopes("stock:read")]
Counting = Annotated[runtime.Principal, runtime.Scopes("stock:write")]

router = APIRouter(prefix="/stock", tags=["stock"])


class SetLevelRequest(BaseModel):
    """The body of ``PUT /stock/{sku}``: how many units are on the shelf now, and optionally
    the unit price from now on (left as it is when absent)."""

    model_config = ConfigDict(extra="forbid")

    available: int = Field(ge=0, le=domain.MAX_LEVEL)
    price: Money | None = Field(default=None, description="unit price in minor units")


class StockView(BaseModel):
    """A SKU as ``GET /stock/{sku}`` shows it."""

    sku: str
    available: int = Field(description="units on the shelf that no order holds")
    reserved: int = Field(description="units held for orders")
    price: Money | None = Field(description="unit price; null until the SKU is priced")


@router.get("", response_model=list[StockView])
async def list_stock(
    store: Store, caller: Reading, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> list[StockView]:
    """Every stocked SKU in SKU order."""
    levels = await store.list_levels(limit=limit)
    return [_view(level) for level in levels]


@router.get("/{sku}", response_model=StockView, responses=runtime.NOT_FOUND)
async def get_stock(sku: SkuPath, store: Store, caller: Reading) -> StockView:
    """One SKU's available and reserved units; 404 if it is not stocked."""
    return await _stock(store, sku)


@router.put("/{sku}", response_model=StockView, responses=runtime.UNREADABLE_BODY)
async def set_stock(
    sku: SkuPath, body: SetLevelRequest, writer: Writer, store: Store, caller: Counting
) -> StockView:
    """Set a SKU's available units (adding the SKU if new) and, if given, its unit price;
    answers the new level. A changed price is announced to the suite (``product.priced``)."""
    level = domain.SetLevel(sku=sku, available=body.available)
    price = None if body.price is None else domain.SetPrice(sku, body.price, datetime.now(UTC))
    await writer.execute(_set_stock, (level, price), correlation_id=sku)
    return await _stock(store, sku)


async def _set_stock(
    commands: tuple[domain.SetLevel, domain.SetPrice | None], store: StockStore
) -> list[Event]:
    level, price = commands
    # The level's upsert locks the SKU's stock row first: two PUTs of one SKU queue there, so the
    # second reads the price the first wrote and takes the next revision.
    await store.save_levels(domain.set_level(level))
    if price is None:
        return []
    current = await store.price_for_update(price.sku)
    priced, events = domain.reprice(current, price)
    await store.save_price(current, priced)
    return events


async def _stock(store: StockStore, sku: str) -> StockView:
    level = await store.get_level(sku)
    if level is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"sku {sku} is not stocked")
    return _view(level)


def _view(level: domain.StockLevel) -> StockView:
    return StockView(
        sku=level.sku, available=level.available, reserved=level.reserved, price=level.price
    )
