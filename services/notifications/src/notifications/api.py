"""The notifications HTTP API: list the messages sent. HTTP <-> domain; no SQL, no AMQP.

Notifications are only ever sent by the saga's terminal events, never over HTTP, so this router
only reads, and a customer only their own.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from notifications import domain
from notifications.store import NotificationStore
from shop_contracts.money import NO_CONTROL_CHARACTERS
from warren import runtime

Store = Annotated[NotificationStore, Depends(runtime.store)]
Reading = Annotated[runtime.Principal, runtime.Scopes("notifications:read")]

router = APIRouter(prefix="/notifications", tags=["notifications"])


class NotificationView(BaseModel):
    """A sent notification as ``GET /notifications`` shows it."""

    id: uuid.UUID
    order_id: uuid.UUID
    customer_id: str
    kind: domain.Kind
    channel: str
    subject: str
    body: str
    created_at: datetime


@router.get("", response_model=list[NotificationView])
async def list_notifications(
    store: Store,
    caller: Reading,
    order_id: uuid.UUID | None = None,
    customer_id: Annotated[
        str | None,
        Query(
            max_length=128,
            pattern=NO_CONTROL_CHARACTERS,
            description=f"another customer's notifications (needs {runtime.ADMIN_SCOPE})",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[NotificationView]:
    """The caller's notifications, newest first, optionally about one order.

    An operator (``warren:admin``) sees every customer's, or one's with ``customer_id``.
    """
    customer = caller.customer_to_list(customer_id, "notifications")
    sent = await store.list(order_id=order_id, customer_id=customer, limit=limit)
    return [_view(notification) for notification in sent]


def _view(notification: domain.Notification) -> NotificationView:
    return NotificationView(
        id=notification.id,
        order_id=notification.order_id,
        customer_id=notification.customer_id,
        kind=notification.kind,
        channel=notification.channel,
        subject=notification.subject,
        body=notification.body,
        created_at=notification.created_at,
    )
