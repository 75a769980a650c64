"""CPU time of processes on this machine, from /proc: who used the cores during a measurement.

Read-only; a process that is gone (or not local) counts as zero.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

TICKS = os.sysconf("SC_CLK_TCK")


def seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used so far (0 when unknown)."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def group_seconds(command: str) -> dict[int, float]:
    """CPU seconds of every live process whose command name is ``command``, by pid."""
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                if comm.read().strip() != command:
                    continue
        except OSError:
            continue
        found[int(entry)] = seconds(int(entry))
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (from /proc/stat)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / TICKS, total / TICKS


class Usage:
    """CPU shares (1.0 = one core) of named processes and of the machine between two points."""

    def __init__(self, pids: Mapping[str, int], groups: tuple[str, ...] = ()) -> None:
        self.pids = dict(pids)
        self.groups = groups
        self._start: dict[str, float] = {}
        self._group_start: dict[str, dict[int, float]] = {}
        self._machine = (0.0, 0.0)

    def start(self) -> None:
        self._start = {name: seconds(pid) for name, pid in self.pids.items()}
        self._group_start = {command: group_seconds(command) for command in self.groups}
        self._machine = machine_busy()

    def shares(self, wall: float) -> dict[str, float]:
        """Each process's CPU over ``wall`` seconds, plus ``machine`` (busy cores)."""
        shares = {
            name: (seconds(pid) - self._start[name]) / wall for name, pid in self.pids.items()
        }
        for command in self.groups:
            before = self._group_start[command]
            now = group_seconds(command)
            # Processes born during the window count whole; those that died are missed.
            used = sum(t - before.get(pid, 0.0) for pid, t in now.items())
            shares[command] = used / wall
        busy, total = machine_busy()
        cores = os.cpu_count() or 1
        span = (total - self._machine[1]) or 1.0
        shares["machine"] = cores * (busy - self._machine[0]) / span
        return shares
