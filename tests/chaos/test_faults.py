"""The suite under faults: processes killed, connections cut, broker and database restarted,
messages duplicated, reordered and garbled, while orders stream in. Every invariant must hold —
and once it did, the same run switches the inbox and the outbox off to show the checks catch it."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from harness import CLUSTER, Profile, chaos_run
from harness.faults import FAULTS
from harness.run import PREFETCH
from harness.stream import order_body, order_headers

from warren.testing import wait_until


@pytest.mark.timeout(1800)
async def test_nothing_is_lost_or_done_twice_under_faults(profile: Profile, base) -> None:
    async with chaos_run(base, profile, base / "logs") as run:
        outcome = await run.execute()
        print("\n" + outcome.report)  # noqa: T201 - the table is the deliverable
        assert outcome.invariants.violations() == [], outcome.report
        assert outcome.invariants.placed >= profile.orders
        assert all(fault.recovered_s is not None for fault in outcome.faults), outcome.report
        assert outcome.invariants.dlq_injected == outcome.invariants.dlq_total > 0
        for burst in run.stage.bursts:  # overload: HTTP answered, prefetch bounded the in-flight
            assert burst.readyz_failures == 0, burst
            assert burst.most_unacked <= PREFETCH, burst

        # Without the inbox, a redelivered message is handled again: the ledger must say so.
        await run.disable_inbox()
        await FAULTS["duplicate delivery"](run.stage)

        async def applied_twice() -> int:
            return (await run.measure()).applied_twice

        twice = await wait_until(applied_twice, timeout=30, interval=0.5, what="duplicates seen")
        print(f"inbox disabled: messages applied twice = {twice}")  # noqa: T201

        # Without the outbox, events of committed orders never leave: loss and stuck orders.
        await run.bypass_outbox()
        async with httpx.AsyncClient(base_url=run.orders_url, timeout=5) as http:
            for number in range(3):
                response = await http.post(
                    "/orders", json=order_body(number), headers=order_headers(number)
                )
                assert response.status_code == 202
                run.placed.append(str(response.json()["order_id"]))
        await asyncio.sleep(2)  # what would have been published by now is not
        broken = await run.measure()
        print(f"outbox bypassed: {broken.violations()}")  # noqa: T201
        assert broken.lost >= 3
        assert broken.stuck >= 3
        assert any(v.startswith("applied_twice=") for v in broken.violations())


@pytest.mark.timeout(1800)
@pytest.mark.long  # ~2 minutes: `make chaos` runs it, `make test` deselects it
async def test_a_three_node_cluster_loses_nothing_when_a_node_stops_under_load(base) -> None:
    async with chaos_run(base, CLUSTER, base / "logs") as run:
        outcome = await run.execute()
        print("\n" + outcome.report)  # noqa: T201
        members = await run.stage.node.ctl(
            "list_queues", "-p", run.stage.vhost, "name", "type", "members", "online",
            "--formatter", "json",
        )  # fmt: skip
    assert outcome.invariants.violations() == [], outcome.report
    assert all(fault.recovered_s is not None for fault in outcome.faults), outcome.report
    queues = [q for q in _json(members) if q["type"] == "quorum"]
    assert queues
    assert all(len(q["members"]) == 3 and len(q["online"]) == 3 for q in queues), queues


def _json(text: str) -> list[dict]:
    import json

    start = text.index("[")
    return list(json.loads(text[start:]))
