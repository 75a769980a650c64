"""The payment decision: what to charge for reserved stock and what the provider's answer means."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from payments import domain
from shop_contracts.examples import example
from shop_contracts.money import Money
from shop_contracts.payments import PaymentCaptured, PaymentDeclined, PaymentRefunded
from shop_contracts.stock import StockReserved

AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def reserved(order_id: uuid.UUID | None = None) -> StockReserved:
    event = example(StockReserved, order_id or uuid.uuid4())
    assert isinstance(event, StockReserved)
    return event


def test_the_charge_is_the_full_reserved_amount_of_that_customer() -> None:
    event = reserved()
    charge = domain.charge_for(event)
    assert charge == domain.Charge(event.order_id, event.customer_id, event.amount)


def test_an_approved_charge_is_a_captured_payment_and_payment_captured() -> None:
    charge = domain.charge_for(reserved())
    payment_id = uuid.uuid4()
    payment, events = domain.settle(charge, domain.Approved(payment_id), AT)
    assert payment == domain.Payment(
        order_id=charge.order_id,
        customer_id=charge.customer_id,
        amount=charge.amount,
        status=domain.Status.CAPTURED,
        payment_id=payment_id,
        reason=None,
        at=AT,
    )
    assert events == [
        PaymentCaptured(
            order_id=charge.order_id,
            payment_id=payment_id,
            customer_id=charge.customer_id,
            amount=charge.amount,
            captured_at=AT,
        )
    ]


def test_a_refused_charge_is_a_declined_payment_and_payment_declined() -> None:
    charge = domain.charge_for(reserved())
    payment, events = domain.settle(charge, domain.Refused("above the limit"), AT)
    assert payment.status is domain.Status.DECLINED
    assert payment.payment_id is None
    assert payment.reason == "above the limit"
    assert payment.amount == charge.amount
    assert events == [
        PaymentDeclined(
            order_id=charge.order_id,
            customer_id=charge.customer_id,
            amount=charge.amount,
            reason="above the limit",
            declined_at=AT,
        )
    ]


def test_a_decline_reason_always_fits_the_contract() -> None:
    charge = domain.Charge(uuid.uuid4(), "bob", Money(amount=1, currency="EUR"))
    blank, [blank_event] = domain.settle(charge, domain.Refused("  "), AT)
    long, [long_event] = domain.settle(charge, domain.Refused("x" * 900), AT)
    assert blank.reason == "declined by the provider"
    assert isinstance(blank_event, PaymentDeclined)
    assert blank_event.reason == blank.reason
    assert long.reason == "x" * 500
    assert isinstance(long_event, PaymentDeclined)
    assert long_event.reason == long.reason


@pytest.mark.parametrize("amount", [0], ids=["zero"])
def test_nothing_to_capture_is_refused_before_the_provider(amount: int) -> None:
    charge = domain.Charge(uuid.uuid4(), "alice", Money(amount=amount, currency="EUR"))

    refused = domain.refusal(charge)

    assert isinstance(refused, domain.Refused)
    assert refused.reason.startswith("invalid_amount: ")
    payment, [event] = domain.settle(charge, refused, AT)
    assert payment.status is domain.Status.DECLINED
    assert isinstance(event, PaymentDeclined)
    assert event.reason.startswith(domain.INVALID_AMOUNT)


@pytest.mark.parametrize("amount", [1, 100_000])
def test_a_positive_amount_goes_to_the_provider(amount: int) -> None:
    charge = domain.Charge(uuid.uuid4(), "alice", Money(amount=amount, currency="EUR"))
    assert domain.refusal(charge) is None


def captured() -> domain.Payment:
    payment, _ = domain.settle(domain.charge_for(reserved()), domain.Approved(uuid.uuid4()), AT)
    return payment


def declined() -> domain.Payment:
    payment, _ = domain.settle(domain.charge_for(reserved()), domain.Refused("limit"), AT)
    return payment


def test_a_refund_is_due_only_for_a_captured_payment() -> None:
    assert domain.is_refund_due(captured())
    assert not domain.is_refund_due(None)  # nothing taken yet
    assert not domain.is_refund_due(declined())
    refunded, _ = domain.refund(captured(), "order cancelled", AT)
    assert not domain.is_refund_due(refunded)  # given back already: never twice


def test_refunding_a_captured_payment_gives_it_all_back_once() -> None:
    payment = captured()
    later = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)

    refunded, events = domain.refund(payment, "order cancelled (deadline_exceeded)", later)

    assert refunded.status is domain.Status.REFUNDED
    assert refunded.refunded_at == later
    assert (refunded.payment_id, refunded.amount) == (payment.payment_id, payment.amount)
    [event] = events
    assert event == PaymentRefunded(
        order_id=payment.order_id,
        payment_id=payment.payment_id,
        customer_id=payment.customer_id,
        amount=payment.amount,
        reason="order cancelled (deadline_exceeded)",
        refunded_at=later,
    )
    assert domain.refund(refunded, "again", later) == (refunded, [])


def test_nothing_is_refunded_for_a_declined_payment() -> None:
    payment = declined()
    assert domain.refund(payment, "order cancelled", AT) == (payment, [])


def test_a_charge_for_an_order_cancelled_first_is_declined_order_cancelled() -> None:
    charge = domain.charge_for(reserved())
    refused = domain.refusal(charge, cancelled=True)
    assert refused == domain.CANCELLED_FIRST
    payment, events = domain.settle(charge, refused, AT)
    assert (payment.status, payment.reason, payment.payment_id) == (
        domain.Status.DECLINED,
        "order_cancelled",
        None,
    )
    [event] = events
    assert isinstance(event, PaymentDeclined)
    assert event.reason == "order_cancelled"
