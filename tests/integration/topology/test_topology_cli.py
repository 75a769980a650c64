"""`warren topology apply` builds the suite's topology in a vhost; `diff` sees it match, then sees
drift when a queue goes missing."""

from __future__ import annotations

import asyncio

import aio_pika
from typer.testing import CliRunner

from warren.cli import app


def run(*args: str, env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


async def test_apply_then_diff_then_drift(vhost_url: str, servers) -> None:
    env = {"AMQP_URL": vhost_url, "RABBITMQ_MANAGEMENT_URL": servers.management_url}
    code, output = await asyncio.to_thread(run, "topology", "apply", env=env)
    assert code == 0, output

    code, output = await asyncio.to_thread(run, "topology", "diff", env=env)
    assert code == 0, output
    assert "matches the code" in output

    connection = await aio_pika.connect(vhost_url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete("payments.charges.dlq")
    code, output = await asyncio.to_thread(run, "topology", "diff", env=env)
    assert code == 1
    assert "missing queue: payments.charges.dlq" in output
