"""What ``make bench`` measures: the messaging cases, their sizes, and the issue's targets.

Data only (plus the round-robin order): which contender runs which scenario with which options,
how big a run is in full and in ``--quick`` mode. ``bench.__main__`` executes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RAW, FASTSTREAM, WARREN = "aio-pika", "faststream", "warren"
TRIO = (RAW, FASTSTREAM, WARREN)
TRACED_10 = "warren traced 10%"
SAMPLED_10 = {"sampler": "parentbased_traceidratio", "sampler_arg": "0.1"}
"""The production setting the README recommends: one trace in ten recorded, whole."""
SAGA_ACCOUNTING_RATE = 20.0  # orders/s of the counting pass: low, so counting costs no latency
SAGA_ACCOUNTING_LOAD_RATE = 80.0  # and of a second pass near capacity, where deliveries queue


@dataclass(frozen=True)
class Case:
    """One row of the messaging table: a scenario, a contender and its options."""

    group: str  # rows of one group are compared with each other (ratios to raw)
    scenario: str
    contender: str
    label: str = ""  # shown instead of the contender's name
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.label or self.contender


@dataclass(frozen=True)
class Sizes:
    """How much one run does."""

    publish: int
    consume: int
    consume_p1: int
    e2e: int
    latency_seconds: float
    rounds: int
    saga_seconds: float  # each paced phase
    saga_saturation_seconds: float
    saga_accounting_seconds: float  # the counting pass, in each contender's first run
    outbox_rows: int
    outbox_seconds: float


FULL = Sizes(  # timed parts of 2-3 s: long enough that start-up and one GC pass do not decide
    publish=12000,
    consume=12000,
    consume_p1=1500,
    e2e=8000,
    latency_seconds=4.0,
    rounds=3,
    saga_seconds=20.0,
    saga_saturation_seconds=20.0,
    saga_accounting_seconds=5.0,
    outbox_rows=4000,
    outbox_seconds=4.0,
)
QUICK = Sizes(
    publish=1000,
    consume=1000,
    consume_p1=300,
    e2e=1000,
    latency_seconds=1.0,
    rounds=1,
    saga_seconds=3.0,
    saga_saturation_seconds=4.0,
    saga_accounting_seconds=3.0,
    outbox_rows=500,
    outbox_seconds=1.0,
)


def cases(sizes: Sizes, uvloop: bool) -> list[Case]:
    """Every messaging case, grouped; each group starts with raw aio-pika (the baseline)."""
    traced = {"tracing": True}
    sampled = {**traced, **SAMPLED_10}
    found = [
        *(Case("publish", "publish", c, options={"count": sizes.publish}) for c in TRIO),
        Case("publish", "publish", "warren.send", options={"count": sizes.publish}),
        Case("publish", "publish", WARREN, "warren traced", {"count": sizes.publish, **traced}),
        Case("publish", "publish", WARREN, TRACED_10, {"count": sizes.publish, **sampled}),
    ]
    for prefetch in (1, 10, 100):
        count = sizes.consume_p1 if prefetch == 1 else sizes.consume
        group = f"consume prefetch {prefetch}"
        options = {"count": count, "prefetch": prefetch}
        found += [Case(group, "consume", c, options=options) for c in TRIO]
    p100 = {"count": sizes.consume, "prefetch": 100}
    found += [
        Case("consume prefetch 100", "consume", WARREN, "warren traced", {**p100, **traced}),
        Case("consume prefetch 100", "consume", WARREN, TRACED_10, {**p100, **sampled}),
        Case(
            "consume prefetch 100",
            "consume",
            WARREN,
            "warren inbox+outbox",
            {**p100, "inbox": True},
        ),
        *(Case("end to end", "e2e", c, options={"count": sizes.e2e}) for c in TRIO),
        Case("end to end", "e2e", WARREN, "warren traced", {"count": sizes.e2e, **traced}),
        Case("end to end", "e2e", WARREN, TRACED_10, {"count": sizes.e2e, **sampled}),
        *(
            Case("latency at 1000/s", "latency", c, options={"seconds": sizes.latency_seconds})
            for c in TRIO
        ),
        Case(
            "latency at 1000/s",
            "latency",
            WARREN,
            "warren traced",
            {"seconds": sizes.latency_seconds, **traced},
        ),
    ]
    if uvloop:
        loop = {"loop": "uvloop"}
        found += [
            *(
                Case("publish, uvloop", "publish", c, options={"count": sizes.publish, **loop})
                for c in TRIO
            ),
            *(
                Case("consume prefetch 100, uvloop", "consume", c, options={**p100, **loop})
                for c in TRIO
            ),
            *(
                Case("end to end, uvloop", "e2e", c, options={"count": sizes.e2e, **loop})
                for c in TRIO
            ),
        ]
    return found


def rounds(all_cases: list[Case], count: int) -> list[list[Case]]:
    """``count`` rounds over every case; within a group the contenders' order rotates per round,
    so no contender always runs first (cold) or last."""
    groups: dict[str, list[Case]] = {}
    for case in all_cases:
        groups.setdefault(case.group, []).append(case)
    schedule = []
    for r in range(count):
        this_round = []
        for members in groups.values():
            shift = r % len(members)
            this_round += members[shift:] + members[:shift]
        schedule.append(this_round)
    return schedule
