"""The order stream: customers placing orders over HTTP at a steady rate while things break.

Owns load generation only. Each order carries an ``Idempotency-Key``, so a request cut short by a
killed ``orders`` process or a database restart is simply sent again until it is accepted: an
order counts as placed once, when the service answered 202. The mix gives all three outcomes.
Each customer calls with their own bearer token from the run's test issuer (``issuer()``).
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from warren.runtime import ADMIN_SCOPE, Issuer

SEED_STOCK = {"TEA-GREEN": 100_000, "MUG-BLUE": 40, "TEAPOT-CAST-IRON": 8}
"""What inventory stocks at start (SEED_STOCK): teapots and mugs run out, tea does not. Their
prices are inventory's seeded catalogue (tea 12.50 EUR, mugs 4.99, teapots 89.00)."""

PAYMENT_LIMITS = {"frugal": 500}
"""The ``frugal`` customer is declined above 5.00 EUR (PAYMENT_LIMITS): any order of theirs."""


@functools.cache
def issuer() -> Issuer:
    """The issuer the chaos suite trusts (its services get ``issuer().settings()``)."""
    return Issuer(issuer="https://chaos.test/", audience="warren-chaos", kid="chaos")


def auth(customer: str, *scopes: str) -> dict[str, str]:
    """An ``Authorization`` header for ``customer`` with ``scopes`` (a day long)."""
    return {"Authorization": f"Bearer {issuer().token(customer, scopes, ttl=86_400)}"}


def operator() -> dict[str, str]:
    """The header of an operator reading any customer's orders."""
    return auth("operator", "orders:read", ADMIN_SCOPE)


def customer(number: int) -> str:
    """Who places the ``number``-th order: ``frugal`` (declined above 5 EUR) one in ten."""
    return "frugal" if number % 10 == 7 else f"customer-{number % 17}"


def order_headers(number: int) -> dict[str, str]:
    """The ``number``-th order's customer's token."""
    return auth(customer(number), "orders:write")


def order_body(number: int) -> dict[str, Any]:
    """The ``number``-th order of the mix: mostly confirmed, some declined, some out of stock."""
    tea = {"sku": "TEA-GREEN", "quantity": 1 + number % 2}  # priced by the catalogue
    if number % 10 == 3:
        lines = [{"sku": "TEAPOT-CAST-IRON", "quantity": 1}]
    elif number % 10 == 6:
        lines = [tea, {"sku": "MUG-BLUE", "quantity": 2}]
    else:
        lines = [tea]
    return {"currency": "EUR", "lines": lines}  # the customer is the token's subject


@dataclass
class OrderStream:
    """Places ``count`` orders at ``rate`` per second against ``url``; records what was accepted."""

    url: str
    count: int
    rate: float
    give_up_after: float = 120.0
    placed: list[str] = field(default_factory=list)
    retried: int = 0
    abandoned: int = 0

    async def run(self) -> None:
        """Place every order of the stream, paced, each retried until accepted."""
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:
            tasks = []
            for number in range(self.count):
                placing = self.place(http, order_body(number), order_headers(number))
                tasks.append(asyncio.create_task(placing))
                await asyncio.sleep(1 / self.rate)
            await asyncio.gather(*tasks)

    async def place(
        self, http: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str]
    ) -> str | None:
        """POST one order until it is accepted (same key every time); its id, None if abandoned."""
        key = str(uuid.uuid4())
        deadline = asyncio.get_running_loop().time() + self.give_up_after
        while asyncio.get_running_loop().time() < deadline:
            try:
                response = await http.post(
                    "/orders", json=body, headers={**headers, "Idempotency-Key": key}
                )
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 202:
                order_id = str(response.json()["order_id"])
                self.placed.append(order_id)
                return order_id
            if response is not None and response.status_code == 422:
                raise AssertionError(f"the stream sent a bad order: {response.text}")
            self.retried += 1
            await asyncio.sleep(0.25)
        self.abandoned += 1
        return None
