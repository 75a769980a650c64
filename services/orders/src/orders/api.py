"""The orders HTTP API: place an order, read one, list them. HTTP <-> domain; no SQL, no AMQP.

Placing an order goes through the same write path as the handlers (domain -> store -> outbox, one
transaction), so the ``order.placed`` event exists exactly when the order does.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response, status
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field, model_validator

from orders import domain
from orders.store import OrderStore
from shop_contracts.money import (
    MAX_MINOR_UNITS,
    NO_CONTROL_CHARACTERS,
    Currency,
    CustomerId,
    Money,
)
from shop_contracts.orders import OrderLine
from warren import runtime
from warren.contracts.event import Event

Store = Annotated[OrderStore, Depends(runtime.store)]
Writer = Annotated[runtime.Writer[OrderStore], Depends(runtime.writer)]

router = APIRouter(prefix="/orders", tags=["orders"])

IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c1d3e-2b7a-4c55-9d0e-8a3f5b2c7e14")


class PlaceOrderRequest(BaseModel):
    """The body of ``POST /orders``."""

    model_config = ConfigDict(extra="forbid")

    customer_id: Annotated[CustomerId, Field(pattern=NO_CONTROL_CHARACTERS)]
    currency: Currency
    lines: list[OrderLine] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _total_fits(self) -> PlaceOrderRequest:
        total = sum(line.quantity * line.unit_price for line in self.lines)
        if total > MAX_MINOR_UNITS:
            raise ValueError(f"order total {total} exceeds {MAX_MINOR_UNITS} minor units")
        return self


class Accepted(BaseModel):
    """The answer to ``POST /orders``: the saga has started; follow ``location``."""

    order_id: uuid.UUID
    status: domain.Status
    location: str


class HistoryLine(BaseModel):
    """One step of an order's history."""

    at: datetime
    status: domain.Status
    note: str


class OrderView(BaseModel):
    """An order as ``GET /orders/{id}`` shows it."""

    order_id: uuid.UUID
    customer_id: str
    status: domain.Status
    lines: list[OrderLine]
    total: Money
    history: list[HistoryLine]
    trace_id: str | None = Field(description="open http://localhost:16686/trace/<trace_id>")


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=runtime.UNREADABLE_BODY,
)
async def place_order(
    body: PlaceOrderRequest,
    response: Response,
    writer: Writer,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Accepted:
    """Place an order; answers 202 at once, the saga decides its fate.

    With an ``Idempotency-Key`` header, repeating the request replays the first answer (the same
    order id and Location) instead of placing a second order.
    """
    order_id = (
        uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{body.customer_id}\x00{idempotency_key}")
        if idempotency_key
        else uuid.uuid4()
    )
    command = domain.PlaceOrder(
        order_id=order_id,
        customer_id=body.customer_id,
        lines=tuple(body.lines),
        currency=body.currency,
        at=datetime.now(UTC),
        trace_id=_current_trace_id(),
    )
    await writer.execute(_place, command, correlation_id=str(order_id))
    return _accepted(order_id, domain.Status.PENDING, response)


@router.get("/{order_id}", response_model=OrderView, responses=runtime.NOT_FOUND)
async def get_order(order_id: uuid.UUID, store: Store) -> OrderView:
    """One order with its status and history; 404 if unknown."""
    order = await store.get(order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"order {order_id} not found")
    return _view(order)


@router.get("", response_model=list[OrderView])
async def list_orders(
    store: Store,
    customer_id: Annotated[str | None, Query(max_length=128, pattern=NO_CONTROL_CHARACTERS)] = None,
    status_: Annotated[domain.Status | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[OrderView]:
    """Newest orders first, optionally filtered by customer and status (history omitted)."""
    orders = await store.list(customer_id=customer_id, status=status_, limit=limit)
    return [_view(order) for order in orders]


async def _place(
    command: domain.PlaceOrder, store: OrderStore, deadline: domain.Deadline
) -> list[Event]:
    order, events = domain.place(command, deadline)
    if not await store.add(order):
        return []  # the same Idempotency-Key again: the first request placed it
    return events


def _accepted(order_id: uuid.UUID, state: domain.Status, response: Response) -> Accepted:
    # The request holds no pooled connection of its own: only the writer's transaction does.
    location = f"/orders/{order_id}"
    response.headers["Location"] = location
    return Accepted(order_id=order_id, status=state, location=location)


def _view(order: domain.Order) -> OrderView:
    return OrderView(
        order_id=order.id,
        customer_id=order.customer_id,
        status=order.status,
        lines=list(order.lines),
        total=order.total,
        history=[HistoryLine(at=s.at, status=s.status, note=s.note) for s in order.history],
        trace_id=order.trace_id,
    )


def _current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
