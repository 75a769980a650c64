"""Each invariant check can fail: the ledger, fed observations that break one promise at a time."""

from __future__ import annotations

from collections import Counter

import pytest
from harness import Observations, check

CONSUMERS = {"order.placed.v1": ["inventory.reservations"]}


def healthy() -> Observations:
    return Observations(
        orders={"o1": "confirmed", "o2": "cancelled"},
        stocked={"TEA": 10},
        available={"TEA": 9},
        reservations={"o1": ("held", {"TEA": 1}), "o2": ("released", {"TEA": 1})},
        captured_rows=Counter({"o1": 1}),
        payments={"o1": "captured"},
        overdue={},
        captured_events=Counter({"o1": 1}),
        outbox=[("m1", "order.placed.v1", True), ("m2", "order.placed.v1", True)],
        inbox=Counter({("inventory.reservations", "m1"): 1, ("inventory.reservations", "m2"): 1}),
        dead={"inventory.reservations.dlq": []},
    )


def test_a_healthy_ledger_has_no_violations() -> None:
    assert check(healthy(), placed=["o1", "o2"], consumers=CONSUMERS).violations() == []


def _stuck(seen: Observations) -> None:
    seen.orders["o3"] = "pending"


def _overdue(seen: Observations) -> None:
    seen.orders["o3"] = "reserved"
    seen.overdue["o3"] = 31.0  # the default slack is 30 s


def _kept(seen: Observations) -> None:
    seen.captured_rows["o2"] = 1
    seen.payments["o2"] = "captured"  # o2 is cancelled: its money should have been refunded


def _captured_twice(seen: Observations) -> None:
    seen.captured_events["o1"] = 2


def _oversold(seen: Observations) -> None:
    seen.reservations["o3"] = ("held", {"TEA": 10})  # 11 held of 10, the shelf at -1
    seen.available["TEA"] = -1


def _drift(seen: Observations) -> None:
    seen.available["TEA"] = 8


def _unreleased(seen: Observations) -> None:
    seen.reservations["o2"] = ("held", {"TEA": 1})
    seen.available["TEA"] = 8


def _unpublished(seen: Observations) -> None:
    seen.outbox.append(("m3", "order.placed.v1", False))


def _lost(seen: Observations) -> None:
    del seen.inbox[("inventory.reservations", "m2")]


def _applied_twice(seen: Observations) -> None:
    seen.inbox[("inventory.reservations", "m1")] = 2


def _unexplained(seen: Observations) -> None:
    seen.dead["inventory.reservations.dlq"].append({"message_id": "zz", "x-error-type": "X"})


@pytest.mark.parametrize(
    ("breakage", "invariant"),
    [
        (_stuck, "stuck"),
        (_overdue, "stuck+overdue"),  # an order open past its deadline is stuck too
        (_captured_twice, "captured_twice"),
        (_kept, "kept"),
        (_oversold, "oversold"),
        (_drift, "stock_drift"),
        (_unreleased, "unreleased"),
        (_unpublished, "unpublished"),
        (_lost, "lost"),
        (_applied_twice, "applied_twice"),
        (_unexplained, "dlq_unexplained"),
    ],
)
def test_each_broken_promise_is_reported(breakage, invariant: str) -> None:
    seen = healthy()
    breakage(seen)
    violations = check(seen, placed=["o1", "o2"], consumers=CONSUMERS).violations()
    assert [v.split("=")[0] for v in violations] == invariant.split("+")


def test_stuck_is_not_overdue_while_within_the_slack_and_a_refund_is_not_kept() -> None:
    seen = healthy()
    seen.orders["o3"] = "pending"
    seen.overdue["o3"] = 29.0
    seen.captured_rows["o2"] = 1
    seen.payments["o2"] = "refunded"
    invariants = check(seen, placed=["o1", "o2", "o3"], consumers=CONSUMERS)
    assert (invariants.stuck, invariants.overdue, invariants.kept) == (1, 0, 0)
    assert check(seen, placed=["o1", "o2", "o3"], consumers=CONSUMERS, slack=10).overdue == 1


def test_a_lost_event_in_a_dlq_is_accounted_for_when_injected() -> None:
    seen = healthy()
    del seen.inbox[("inventory.reservations", "m2")]
    seen.dead["inventory.reservations.dlq"].append({"message_id": "m2", "x-error-type": "X"})
    invariants = check(seen, placed=["o1", "o2"], consumers=CONSUMERS, injected=["m2"])
    assert invariants.violations() == []
    assert invariants.dlq_injected == 1
