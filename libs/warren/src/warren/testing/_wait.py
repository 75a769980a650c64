"""Explicit, bounded waits: poll a condition until it holds or a deadline passes.

Owns waiting only; tests say what they wait for and for how long, never a bare sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_until(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Await ``probe()`` until it returns something truthy and return it; raise on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.1f} s (last: {value!r})")
        await asyncio.sleep(interval)
