"""The simulated provider: limits, overrides, stable payment ids, failures on demand."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime

import pytest

from payments.domain import Approved, Charge, Refused, settle
from payments.provider import ProviderUnavailable, SimulatedProvider, payment_id_for
from shop_contracts.money import Money
from warren.messaging import PermanentError

AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def charge(amount: int, customer_id: str = "alice", order_id: uuid.UUID | None = None) -> Charge:
    return Charge(
        order_id=order_id or uuid.uuid4(),
        customer_id=customer_id,
        amount=Money(amount=amount, currency="EUR"),
    )


async def test_an_amount_up_to_the_default_limit_is_captured() -> None:
    provider = SimulatedProvider()
    assert isinstance(await provider.charge(charge(100_000)), Approved)
    assert isinstance(await provider.charge(charge(0)), Approved)


async def test_an_amount_above_the_default_limit_is_declined_with_a_reason() -> None:
    answer = await SimulatedProvider().charge(charge(100_001))
    assert isinstance(answer, Refused)
    assert "limit of 100000" in answer.reason


async def test_the_default_limit_is_configurable() -> None:
    provider = SimulatedProvider(default_limit=500)
    assert isinstance(await provider.charge(charge(500)), Approved)
    assert isinstance(await provider.charge(charge(501)), Refused)


async def test_a_customer_limit_overrides_the_default_both_ways() -> None:
    provider = SimulatedProvider(limits={"alice": 1_000, "vip": 1_000_000})
    assert isinstance(await provider.charge(charge(1_001, "alice")), Refused)
    assert isinstance(await provider.charge(charge(1_001, "bob")), Approved)
    assert isinstance(await provider.charge(charge(900_000, "vip")), Approved)
    assert isinstance(await provider.charge(charge(900_000, "bob")), Refused)


async def test_the_payment_id_is_stable_per_order_across_calls_and_providers() -> None:
    order_id = uuid.uuid4()
    first = await SimulatedProvider().charge(charge(10, order_id=order_id))
    again = await SimulatedProvider(rng=random.Random(7)).charge(charge(20, order_id=order_id))
    other = await SimulatedProvider().charge(charge(10))
    assert isinstance(first, Approved)
    assert isinstance(again, Approved)
    assert isinstance(other, Approved)
    assert first.payment_id == again.payment_id == payment_id_for(order_id)
    assert other.payment_id != first.payment_id
    assert first.payment_id != order_id  # the provider's reference, not our id echoed back


async def test_failure_rate_zero_never_fails() -> None:
    provider = SimulatedProvider(failure_rate=0.0, rng=random.Random(1))
    for _ in range(1000):
        await provider.charge(charge(1))


async def test_failure_rate_one_always_fails() -> None:
    provider = SimulatedProvider(failure_rate=1.0, rng=random.Random(1))
    for _ in range(1000):
        with pytest.raises(ProviderUnavailable):
            await provider.charge(charge(1))


async def test_failure_rate_fails_about_that_fraction_of_calls() -> None:
    failures = await count_failures(SimulatedProvider(failure_rate=0.3, rng=random.Random(42)))
    assert 250 <= failures <= 350  # 0.3 x 1000 +- 3.5 standard deviations


async def test_a_seeded_provider_fails_on_the_same_calls() -> None:
    first = await count_failures(SimulatedProvider(failure_rate=0.5, rng=random.Random(9)))
    again = await count_failures(SimulatedProvider(failure_rate=0.5, rng=random.Random(9)))
    assert first == again


def test_unavailable_is_transient_so_the_runtime_retries_it() -> None:
    assert not issubclass(ProviderUnavailable, PermanentError)
    assert issubclass(ProviderUnavailable, Exception)


@pytest.mark.parametrize("rate", [-0.1, 1.01])
def test_a_failure_rate_outside_0_to_1_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        SimulatedProvider(failure_rate=rate)


def test_negative_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        SimulatedProvider(default_limit=-1)
    with pytest.raises(ValueError, match="negative"):
        SimulatedProvider(limits={"alice": -1})


async def count_failures(provider: SimulatedProvider, calls: int = 1000) -> int:
    failures = 0
    for _ in range(calls):
        try:
            await provider.charge(charge(1))
        except ProviderUnavailable:
            failures += 1
    return failures


async def test_a_refund_is_answered_or_fails_transiently_like_a_charge() -> None:
    payment, _ = settle(charge(100), Approved(uuid.uuid4()), AT)
    await SimulatedProvider().refund(payment)  # a healthy provider gives it back
    with pytest.raises(ProviderUnavailable):
        await SimulatedProvider(failure_rate=1.0).refund(payment)


async def test_every_call_takes_the_configured_latency() -> None:
    provider = SimulatedProvider(latency=0.2)
    started = time.monotonic()
    assert isinstance(await provider.charge(charge(10)), Approved)
    assert time.monotonic() - started >= 0.2


def test_a_negative_latency_is_refused() -> None:
    with pytest.raises(ValueError, match="latency"):
        SimulatedProvider(latency=-1)
