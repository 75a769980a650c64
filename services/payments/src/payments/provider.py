"""The simulated payment provider: deterministic decisions, and transient failures on demand.

Owns what a real provider would decide — decline above a per-customer limit, else capture under a
payment id derived from the order id (the idempotency key, so asking twice never takes twice);
refund a capture (keyed by its payment id, so refunding twice gives back once) — and how it
misbehaves on demand: how often it is "unavailable", and how long each call takes. It stores
nothing and publishes nothing: the handler records its answer.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Mapping

from payments.domain import Answer, Approved, Charge, Payment, Refused

# Fixed forever: payment ids already handed out are derived from it.
PAYMENT_NAMESPACE = uuid.UUID("3a7d2f1e-9b4c-4e8a-a5d6-1c0f8e2b7d93")
DEFAULT_LIMIT = 100_000


class ProviderUnavailable(Exception):
    """The provider did not answer (a timeout, a 503): transient, so the runtime retries it."""


class SimulatedProvider:
    """A stand-in for a card processor, predictable enough to test against.

    ``limits`` maps a customer id to the most it may be charged, in minor units of any currency;
    other customers get ``default_limit``. A fraction ``failure_rate`` (0..1) of calls raises
    ``ProviderUnavailable`` before deciding anything; pass a seeded ``rng`` to make that repeatable.
    Every call takes ``latency`` seconds (a slow provider: what makes a capture land late).
    """

    def __init__(
        self,
        *,
        limits: Mapping[str, int] | None = None,
        default_limit: int = DEFAULT_LIMIT,
        failure_rate: float = 0.0,
        latency: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be within 0..1, not {failure_rate}")
        if latency < 0:
            raise ValueError(f"latency must not be negative, not {latency}")
        if default_limit < 0 or any(limit < 0 for limit in (limits or {}).values()):
            raise ValueError("payment limits must not be negative")
        self.limits = dict(limits or {})
        self.default_limit = default_limit
        self.failure_rate = failure_rate
        self.latency = latency
        self.rng = rng or random.Random()

    def limit_of(self, customer_id: str) -> int:
        """The most ``customer_id`` may be charged, in minor units."""
        return self.limits.get(customer_id, self.default_limit)

    async def charge(self, charge: Charge) -> Answer:
        """Capture or refuse ``charge``; raise ``ProviderUnavailable`` for the failing fraction."""
        await self._answer_or_fail(charge.order_id)
        limit = self.limit_of(charge.customer_id)
        if charge.amount.amount > limit:
            return Refused(
                f"amount {charge.amount.amount} {charge.amount.currency} above the customer's "
                f"limit of {limit}"
            )
        return Approved(payment_id=payment_id_for(charge.order_id))

    async def refund(self, payment: Payment) -> None:
        """Give back ``payment`` in full; raise ``ProviderUnavailable`` for the failing fraction."""
        await self._answer_or_fail(payment.order_id)

    async def _answer_or_fail(self, order_id: uuid.UUID) -> None:
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.rng.random() < self.failure_rate:
            raise ProviderUnavailable(f"payment provider unavailable (order {order_id})")


def payment_id_for(order_id: uuid.UUID) -> uuid.UUID:
    """The payment id of ``order_id``: the same every time (the provider's idempotency key)."""
    return uuid.uuid5(PAYMENT_NAMESPACE, str(order_id))
