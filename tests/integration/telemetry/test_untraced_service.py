"""A service with no tracer provider makes no spans, yet passes on the trace a message carries.

Runs in a subprocess: the other telemetry tests install this process's global provider, and a
provider, once installed, cannot be removed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, uuid
    from shop_contracts.catalogue import REGISTRY
    from shop_contracts.examples import example
    from warren import telemetry
    from warren.messaging import Broker, Consumer, WorkQueue
    from warren.messaging.message import prepare

    PLACED = REGISTRY.resolve("order.placed.v1")
    INCOMING = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    async def main(url):
        broker = Broker(url, "probe")
        await broker.connect()
        seen = asyncio.get_running_loop().create_future()

        async def handle(event, delivery):
            caused = prepare(event, service="probe")  # what a handler's outbox row would carry
            seen.set_result({"received": delivery.headers.get("traceparent"),
                             "caused": caused.headers.get("traceparent")})

        queue = WorkQueue("probe", "work", {PLACED: handle})
        await broker.declare([queue])
        consumer = Consumer(broker, queue)
        await consumer.start()
        await broker.publish(example(PLACED, uuid.uuid4()), headers={"traceparent": INCOMING})
        result = await asyncio.wait_for(seen, 10)
        result["tracing_installed"] = telemetry.tracing_installed()
        await consumer.stop()
        await broker.close()
        print(json.dumps(result))

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_an_untraced_service_passes_the_incoming_trace_on(vhost_url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        vhost_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()[-2000:]
    result = json.loads(out.decode().strip().splitlines()[-1])

    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert result == {"received": incoming, "caused": incoming, "tracing_installed": False}
