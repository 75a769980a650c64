"""The payments HTTP API: read the payment of an order. HTTP <-> domain; no SQL, no AMQP.

Payments are only ever made by the saga (``stock.reserved`` -> provider -> ``payment.*``), never
over HTTP, so this router only reads, and a customer only their own (another's is a 404).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel

from payments import domain
from payments.store import PaymentStore
from warren import runtime

Store = Annotated[PaymentStore, Depends(runtime.store)]
Reading = Annotated[runtime.Principal, runtime.Scopes("payments:read")]

router = APIRouter(prefix="/payments", tags=["payments"])


class PaymentView(BaseModel):
    """The payment of one order as ``GET /payments/{order_id}`` shows it."""

    order_id: uuid.UUID
    customer_id: str
    status: domain.Status
    amount: int
    currency: str
    payment_id: uuid.UUID | None
    reason: str | None
    created_at: datetime
    refunded_at: datetime | None = None


@router.get("/{order_id}", response_model=PaymentView, responses=runtime.NOT_FOUND)
async def get_payment(order_id: uuid.UUID, store: Store, caller: Reading) -> PaymentView:
    """The payment of ``order_id`` (captured, declined or refunded); 404 if none (or another's)."""
    payment = await store.get(order_id)
    if payment is None or not caller.may_see(payment.customer_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no payment for order {order_id}")
    return PaymentView(
        order_id=payment.order_id,
        customer_id=payment.customer_id,
        status=payment.status,
        amount=payment.amount.amount,
        currency=payment.amount.currency,
        payment_id=payment.payment_id,
        reason=payment.reason,
        created_at=payment.at,
        refunded_at=payment.refunded_at,
    )
