"""The orders HTTP API: place an order, read one, list them. HTTP <-> domain; no SQL, no AMQP.

Placing an order goes through the same write path as the handlers (domain -> store -> outbox, one
transaction), so the ``order.placed`` event exists exactly when the order does. The customer is
the bearer token's subject, never a body field; a customer sees only their own orders. A client
names SKUs and quantities only: each line is priced from the catalogue's prices (as inventory
announced them), and a body carrying a price of its own is refused.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field

from orders import domain
from orders.store import OrderStore
from shop_contracts.money import NO_CONTROL_CHARACTERS, Currency, Money, Quantity, Sku
from shop_contracts.orders import OrderLine
from warren import runtime
from warren.contracts.event import Event

Store = Annotated[OrderStore, Depends(runtime.store)]
Writer = Annotated[runtime.Writer[OrderStore], Depends(runtime.writer)]
Placing = Annotated[runtime.Principal, runtime.Scopes("orders:write")]
Reading = Annotated[runtime.Principal, runtime.Scopes("orders:read")]

router = APIRouter(prefix="/orders", tags=["orders"])


UNPRICEABLE: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "An invalid body (a list of errors), or a line the catalogue cannot price "
        "(a Problem: unknown SKU or no price yet, another currency, a total too large)",
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/HTTPValidationError"},
                        {"$ref": "#/components/schemas/Problem"},
                    ]
                }
            }
        },
    }
}


class LineRequest(BaseModel):
    """One line of ``POST /orders``: which SKU and how many. The price is the catalogue's."""

    model_config = ConfigDict(extra="forbid")  # a client-supplied unit_price is refused (422)

    sku: Sku
    quantity: Quantity


class PlaceOrderRequest(BaseModel):
    """The body of ``POST /orders``."""

    model_config = ConfigDict(extra="forbid")  # a customer_id here is a 422: the token says who

    currency: Currency = Field(description="the currency every line's catalogue price must be in")
    lines: list[LineRequest] = Field(min_length=1, max_length=100)


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
    responses={**runtime.UNREADABLE_BODY, **UNPRICEABLE},
)
async def place_order(
    body: PlaceOrderRequest,
    response: Response,
    writer: Writer,
    caller: Placing,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Accepted:
    """Place an order for the caller, priced from the catalogue; answers 202 at once.

    The saga decides its fate. 422 when a line cannot be priced: an unknown SKU or one with no
    price yet, a price in another currency than the order's, or a total too large.

    With an ``Idempotency-Key`` header, repeating the request replays the first answer (the same
    order id and Location) instead of placing a second order. Keys are the caller's own; the same
    key with a different body is a 422 and places nothing. A key is remembered for
    ``IDEMPOTENCY_TTL`` (24 hours by default), then forgotten.
    """
    order_id = uuid.uuid4()  # never derived from the key: nobody can compute another's order id
    command = domain.PlaceOrder(
        order_id=order_id,
        customer_id=caller.subject,
        items=tuple(domain.Item(sku=line.sku, quantity=line.quantity) for line in body.lines),
        currency=body.currency,
        at=datetime.now(UTC),
        trace_id=_current_trace_id(),
    )
    claim = None
    if idempotency_key is not None:
        claim = _Claim(idempotency_key, _fingerprint(body))
    try:
        await writer.execute(_place, _Placement(command, claim), correlation_id=str(order_id))
    except _Replayed as first:
        order_id = first.order_id
    except domain.Unpriceable as refused:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(refused)) from None
    return _accepted(order_id, domain.Status.PENDING, response)


@router.get("/{order_id}", response_model=OrderView, responses=runtime.NOT_FOUND)
async def get_order(order_id: uuid.UUID, store: Store, caller: Reading) -> OrderView:
    """One of the caller's orders with its status and history; 404 if unknown (or another's)."""
    order = await store.get(order_id)
    if order is None or not caller.may_see(order.customer_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"order {order_id} not found")
    return _view(order)


@router.get("", response_model=list[OrderView])
async def list_orders(
    store: Store,
    caller: Reading,
    customer_id: Annotated[
        str | None,
        Query(
            max_length=128,
            pattern=NO_CONTROL_CHARACTERS,
            description=f"another customer's orders (needs {runtime.ADMIN_SCOPE})",
        ),
    ] = None,
    status_: Annotated[domain.Status | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[OrderView]:
    """The caller's newest orders first, optionally by status (history omitted).

    An operator (``warren:admin``) sees every customer's, or one's with ``customer_id``.
    """
    customer = caller.customer_to_list(customer_id, "orders")
    orders = await store.list(customer_id=customer, status=status_, limit=limit)
    return [_view(order) for order in orders]


@dataclass(frozen=True)
class _Claim:
    """An ``Idempotency-Key`` and the fingerprint of the request it came with."""

    key: str
    fingerprint: bytes


@dataclass(frozen=True)
class _Placement:
    command: domain.PlaceOrder
    claim: _Claim | None


class _Replayed(Exception):
    def __init__(self, order_id: uuid.UUID) -> None:
        self.order_id = order_id


async def _place(
    placement: _Placement, store: OrderStore, deadline: domain.Deadline
) -> list[Event]:
    command, claim = placement.command, placement.claim
    if claim is not None:
        held = await store.claim_key(
            command.customer_id, claim.key, claim.fingerprint, command.order_id
        )
        if held.fingerprint != claim.fingerprint:
            raise RequestValidationError(
                [
                    {
                        "type": "idempotency_key_reused",
                        "loc": ("header", "idempotency-key"),
                        "msg": "this Idempotency-Key was used with a different request",
                    }
                ]
            )
        if held.order_id != command.order_id:
            raise _Replayed(held.order_id)  # rolls back nothing: the claim changed no row
    prices = await store.prices_of(item.sku for item in command.items)
    order, events = domain.place(command, prices, deadline)
    await store.add(order)
    return events


def _fingerprint(body: PlaceOrderRequest) -> bytes:
    """SHA-256 of the request's canonical JSON (sorted keys): the same order, the same bytes."""
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).digest()


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
