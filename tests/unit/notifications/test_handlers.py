"""The notifications routing table: which terminal event leads to which message."""

from __future__ import annotations

from notifications.handlers import (
    HANDLERS,
    notify_cancellation,
    notify_confirmation,
    notify_refund,
)
from notifications.main import Settings, build
from shop_contracts.orders import OrderCancelled, OrderConfirmed
from shop_contracts.payments import PaymentRefunded


def test_each_terminal_event_and_refund_has_its_notifying_handler() -> None:
    expected = {
        OrderConfirmed: notify_confirmation,
        OrderCancelled: notify_cancellation,
        PaymentRefunded: notify_refund,
    }
    assert expected == HANDLERS


def test_build_declares_the_outbound_queue_on_port_8004() -> None:
    service = build(Settings())
    [subscription] = service.subscriptions
    assert subscription.purpose == "outbound"
    assert subscription.handlers == HANDLERS
    assert (service.name, service.settings.http_port) == ("notifications", 8004)
    assert [m.name for m in service.migrations] == ["0001_notifications", "0002_refunds"]
