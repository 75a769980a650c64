"""The fault-injection harness: the suite on servers of its own, orders streamed over HTTP, faults
injected on a schedule, and the invariants counted from what the services recorded."""

from .ledger import FaultRecord, Invariants, Observations, check, table
from .run import CLUSTER, LONG, SHORT, ChaosRun, Outcome, Profile, chaos_run

__all__ = [
    "CLUSTER",
    "LONG",
    "SHORT",
    "ChaosRun",
    "FaultRecord",
    "Invariants",
    "Observations",
    "Outcome",
    "Profile",
    "chaos_run",
    "check",
    "table",
]
