"""CLI test fixtures: the ``warren`` app run in a worker thread, a broker, consumers, queue depths.

Each command runs its own event loop (``asyncio.run``), so tests call it through
``asyncio.to_thread`` while their own loop keeps the consumers going.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import pytest
from click.testing import Result
from typer.testing import CliRunner

from warren.cli import app

SERVICE = "probe"

Cli = Callable[..., Awaitable[Result]]


@pytest.fixture
def cli() -> Cli:
    """``await cli("dlq", "show", q, stdin=None)``: the command's ``Result`` (wide terminal)."""
    runner = CliRunner()

    async def invoke(*args: str, stdin: str | None = None) -> Result:
        return await asyncio.to_thread(
            runner.invoke, app, list(args), input=stdin, env={"COLUMNS": "250"}
        )

    return invoke


Depth = Callable[[str], Awaitable[int]]


@pytest.fixture
def depth(raw_channel: aio_pika.abc.AbstractChannel) -> Depth:
    """``await depth(queue)``: the messages ready in ``queue`` right now (passive declare)."""

    async def count(queue: str) -> int:
        declared: Any = await raw_channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)

    return count
