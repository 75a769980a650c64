"""``python -m orders.demo``: place one order of each outcome through the HTTP API and say how
each ended. A client of the running suite; it touches no database and no broker. Each customer
calls with a bearer token of the local development issuer (what ``warren token`` prints).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import httpx

from warren.runtime import Issuer

# Lines name SKUs and quantities only: the catalogue prices them (90 black teas at 11.90 EUR are
# above the default payment limit of 1000 EUR).
SCENARIOS = (
    ("happy path", "alice", [{"sku": "TEA-GREEN", "quantity": 2}]),
    ("payment declined", "bob", [{"sku": "TEA-BLACK", "quantity": 90}]),
    ("out of stock", "carol", [{"sku": "TEAPOT-CAST-IRON", "quantity": 999}]),
)


async def place_and_follow(
    http: httpx.AsyncClient, token: str, lines: list[dict[str, object]]
) -> dict[str, Any]:
    """Place one order as the token's customer and poll it (at most 30 s) until it ends."""
    auth = {"Authorization": f"Bearer {token}"}
    response = await http.post("/orders", json={"currency": "EUR", "lines": lines}, headers=auth)
    response.raise_for_status()
    location = response.headers["Location"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        order: dict[str, Any] = (await http.get(location, headers=auth)).json()
        if order["status"] in ("confirmed", "cancelled"):
            return order
        await asyncio.sleep(0.2)
    last: dict[str, Any] = (await http.get(location, headers=auth)).json()
    return last


async def main() -> int:
    """Run the three scenarios against ORDERS_URL (default http://127.0.0.1:8001)."""
    base = os.environ.get("ORDERS_URL", "http://127.0.0.1:8001")
    issuer = Issuer.development()
    scopes = ("orders:write", "orders:read")
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        outcomes = await asyncio.gather(
            *(
                place_and_follow(http, issuer.token(customer, scopes, ttl=300), lines)
                for _, customer, lines in SCENARIOS
            )
        )
    for (name, _, _), order in zip(SCENARIOS, outcomes, strict=True):
        last = next(
            (h["note"] for h in order.get("history", []) if h["status"] == order["status"]), ""
        )
        print(f"{name:<18} order {order['order_id']}  ->  {order['status']:<10} {last}")
        if order.get("trace_id"):
            print(f"{'':<18} trace: http://localhost:16686/trace/{order['trace_id']}")
    expected = ["confirmed", "cancelled", "cancelled"]
    return 0 if [o["status"] for o in outcomes] == expected else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
