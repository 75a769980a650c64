"""The inventory HTTP API: read stock levels, set one after a count. No SQL, no AMQP.

Setting a level goes through the same write path as the handlers (domain -> store, one
transaction), so it queues behind any reservation holding that SKU's row. Reading needs the
``stock:read`` scope, setting ``stock:write`` (a stock-keeper's, not a customer's).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from inventory import domain
from inventory.store import StockStore
from shop_contracts.money import Sku
from warren import runtime
from warren.contracts.event import Event

Store = Annotated[StockStore, Depends(runtime.store)]
Writer = Annotated[runtime.Writer[StockStore], Depends(runtime.writer)]
SkuPath = Annotated[Sku, Path(description="stock-keeping unit, e.g. TEA-GREEN")]
Reading = Annotated[runtime.Principal, runtime.Scopes("stock:read")]
Counting = Annotated[runtime.Principal, runtime.Scopes("stock:write")]

router = APIRouter(prefix="/stock", tags=["stock"])


class SetLevelRequest(BaseModel):
    """The body of ``PUT /stock/{sku}``: how many units are on the shelf now."""

    model_config = ConfigDict(extra="forbid")

    available: int = Field(ge=0, le=domain.MAX_LEVEL)


class StockView(BaseModel):
    """A SKU as ``GET /stock/{sku}`` shows it."""

    sku: str
    available: int = Field(description="units on the shelf that no order holds")
    reserved: int = Field(description="units held for orders")


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
    """Set a SKU's available units (adding the SKU if new); answers the new level."""
    await writer.execute(_set_level, domain.SetLevel(sku=sku, available=body.available))
    return await _stock(store, sku)


async def _set_level(command: domain.SetLevel, store: StockStore) -> list[Event]:
    await store.save_levels(domain.set_level(command))
    return []


async def _stock(store: StockStore, sku: str) -> StockView:
    level = await store.get_level(sku)
    if level is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"sku {sku} is not stocked")
    return _view(level)


def _view(level: domain.StockLevel) -> StockView:
    return StockView(sku=level.sku, available=level.available, reserved=level.reserved)
