"""What customers are told: one message per outcome, addressed to them, saying what matters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from notifications import domain
from shop_contracts.examples import example
from shop_contracts.money import Money
from shop_contracts.orders import CancellationReason, OrderCancelled, OrderConfirmed
from shop_contracts.payments import PaymentRefunded

AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
PAYMENT_ID = uuid.UUID("5d2c1b7a-8e94-4f03-b6a2-9c8d7e6f5a41")


def confirmed(total: Money, order_id: uuid.UUID | None = None) -> OrderConfirmed:
    return OrderConfirmed(
        order_id=order_id or uuid.uuid4(),
        customer_id="alice",
        total=total,
        payment_id=PAYMENT_ID,
        confirmed_at=AT,
    )


def cancelled(reason: CancellationReason, detail: str = "") -> OrderCancelled:
    return OrderCancelled(
        order_id=uuid.uuid4(),
        customer_id="bob",
        reason=reason,
        detail=detail,
        cancelled_at=AT,
    )


def test_a_confirmation_tells_the_customer_by_email_what_they_paid() -> None:
    event = confirmed(Money(amount=2999, currency="EUR"))
    message = domain.confirmation(event, AT)
    assert message.kind is domain.Kind.ORDER_CONFIRMED
    assert (message.order_id, message.customer_id, message.channel) == (
        event.order_id,
        "alice",
        "email",
    )
    assert "confirmed" in message.subject
    assert str(event.order_id)[:8] in message.subject
    assert "29.99 EUR" in message.body
    assert str(PAYMENT_ID) in message.body
    assert message.created_at == AT


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (5, "EUR", "0.05 EUR"),
        (100_000, "USD", "1000.00 USD"),
        (1500, "JPY", "1500 JPY"),
        (12_345, "KWD", "12.345 KWD"),
    ],
)
def test_the_total_is_shown_in_the_currency_s_own_units(
    amount: int, currency: str, shown: str
) -> None:
    message = domain.confirmation(confirmed(Money(amount=amount, currency=currency)), AT)
    assert f"charged {shown} " in message.body


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("out_of_stock", "some items are out of stock"),
        ("payment_declined", "the payment was declined"),
        ("deadline_exceeded", "it could not be completed in time"),
    ],
)
def test_a_cancellation_tells_the_customer_why(reason: CancellationReason, said: str) -> None:
    event = cancelled(reason, detail="not enough MUG-BLUE (0/1)")
    message = domain.cancellation(event, AT)
    assert message.kind is domain.Kind.ORDER_CANCELLED
    assert (message.order_id, message.customer_id, message.channel) == (
        event.order_id,
        "bob",
        "email",
    )
    assert "cancelled" in message.subject
    assert said in message.body
    assert "(not enough MUG-BLUE (0/1))" in message.body


def test_a_cancellation_without_detail_has_no_empty_parentheses() -> None:
    message = domain.cancellation(cancelled("out_of_stock"), AT)
    assert "()" not in message.body
    assert "out of stock. " in message.body


def test_the_id_is_the_same_for_the_same_order_and_kind_and_differs_otherwise() -> None:
    event = confirmed(Money(amount=1, currency="EUR"))
    first = domain.confirmation(event, AT)
    again = domain.confirmation(event, datetime.now(UTC))
    other_kind = domain.notification_id(event.order_id, domain.Kind.ORDER_CANCELLED)
    other_order = domain.confirmation(confirmed(Money(amount=1, currency="EUR")), AT)
    assert first.id == again.id
    assert len({first.id, other_kind, other_order.id}) == 3


def test_a_refund_tells_the_customer_the_money_is_back_in_full() -> None:
    event = example(PaymentRefunded, uuid.uuid4())
    assert isinstance(event, PaymentRefunded)
    message = domain.refund_notice(event, AT)
    assert message.kind is domain.Kind.PAYMENT_REFUNDED
    assert (message.order_id, message.customer_id) == (event.order_id, "alice")
    assert "refunded" in message.subject
    assert "refunded 29.99 EUR in full" in message.body
    assert str(event.payment_id) in message.body
    assert message.id == domain.notification_id(event.order_id, domain.Kind.PAYMENT_REFUNDED)
    assert message.id != domain.notification_id(event.order_id, domain.Kind.ORDER_CANCELLED)
