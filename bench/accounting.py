"""Statements and commits per order: what each service sent PostgreSQL during a short pass.

Owns the bench's side of the hooks in ``bench/service_site``: it signals the service processes
(``SIGUSR2`` starts counting, ``SIGUSR1`` asks for the counts), reads what they write, reads the
``xact_commit`` of their databases in ``pg_stat_database``, and turns snapshots into statements
and commits per order, per service and per step and statement kind. Commits are counted twice:
by the services (each ``COMMIT``, and each statement sent outside a transaction) and by the
server (``xact_commit``: every transaction in the database, whoever ran it). The background
(relay polls, deadline sweeps) is measured while idle and taken off, so what is left is what
orders cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

SETTLE = 10.5
"""Seconds of quiet before ``pg_stat_database`` is read: PostgreSQL 15 publishes a backend's
transaction counts at most once a second, and an idle one's within 10 s
(``PGSTAT_IDLE_INTERVAL``), so a read sooner after the last order would miss its last commits
(and count them in the next window instead). LISTEN connections publish only when they run a
statement: the hooks run one on each before every snapshot, and their own transactions are
taken off."""
QUIET = 5.0
"""Seconds of the idle window that measures the background, after ``SETTLE``."""

Key = tuple[str, str]  # (step, statement kind)


@dataclass(frozen=True)
class Snapshot:
    """Counts of every service at one moment."""

    at: float
    statements: dict[str, dict[Key, int]]  # service -> (step, kind) -> statements so far
    autocommits: dict[str, int]  # service -> statements it sent outside a transaction so far
    commits: dict[str, int]  # service -> xact_commit of its database so far, less the hooks' own
    files: dict[str, dict[str, str | None]]  # service -> module -> the file it was imported from


class Ledger:
    """The service processes ``pids`` (by service), their reports in ``folder``, their databases
    (``prefix`` + service) on the server of ``database_url``."""

    def __init__(
        self, folder: Path, pids: Mapping[str, int], database_url: str, prefix: str
    ) -> None:
        self.folder = folder
        self.pids = dict(pids)
        self.database_url = database_url
        self.prefix = prefix

    async def snapshot(self, *, start: bool = False) -> Snapshot:
        """Every service's counts now (``start``: begin counting first, from zero)."""
        asked = {name: self._report(pid).get("seq", 0) for name, pid in self.pids.items()}
        for pid in self.pids.values():
            os.kill(pid, signal.SIGUSR2 if start else signal.SIGUSR1)
        reports = await self._answers(asked)
        return Snapshot(
            at=time.time(),
            statements={
                name: {(step, kind): n for step, kind, n in report["counts"]}
                for name, report in reports.items()
            },
            autocommits={
                name: sum(report.get("autocommits", {}).values())
                for name, report in reports.items()
            },
            commits={  # the hooks' pokes (one transaction each) are not the service's
                name: count - reports[name].get("pokes", 0)
                for name, count in (await self._commits()).items()
            },
            files={name: report["files"] for name, report in reports.items()},
        )

    async def _answers(self, asked: Mapping[str, int], timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            reports = {name: self._report(self.pids[name]) for name in asked}
            if all(reports[name].get("seq", 0) > seq for name, seq in asked.items()):
                return reports
            if time.monotonic() > deadline:
                silent = [name for name, seq in asked.items() if reports[name].get("seq", 0) <= seq]
                raise RuntimeError(f"no counts from {', '.join(silent)} within {timeout:.0f} s")
            await asyncio.sleep(0.02)

    def _report(self, pid: int) -> dict[str, Any]:
        try:
            found: dict[str, Any] = json.loads((self.folder / f"{pid}.json").read_text())
        except FileNotFoundError:
            return {}
        return found

    async def _commits(self) -> dict[str, int]:
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch(_COMMITS, [self.prefix + name for name in self.pids])
        finally:
            await conn.close()
        return {row["datname"][len(self.prefix) :]: row["xact_commit"] for row in rows}

    async def watch(self, into: list[tuple[float, dict[str, int]]], every: float = 0.5) -> None:
        """Until cancelled, append each database's ``xact_commit`` to ``into`` every ``every``
        s: when the server published what (its lag is what ``SETTLE`` waits for)."""
        names = [self.prefix + name for name in self.pids]
        conn = await asyncpg.connect(self.database_url)
        try:
            while True:
                rows = await conn.fetch(_COMMITS, names)
                into.append((time.time(), {r[0][len(self.prefix) :]: r[1] for r in rows}))
                await asyncio.sleep(every)
        finally:
            await conn.close()


_COMMITS = "SELECT datname, xact_commit FROM pg_stat_database WHERE datname = ANY($1)"


async def account(ledger: Ledger, run: Callable[[], Awaitable[int]]) -> dict[str, Any]:
    """Count while idle, then while ``run`` places orders (it returns how many were confirmed);
    statements and commits per order, by service, step and kind."""
    server: list[tuple[float, dict[str, int]]] = []
    watching = asyncio.create_task(ledger.watch(server))
    try:
        await ledger.snapshot(start=True)
        await asyncio.sleep(SETTLE)  # what ran before reaches pg_stat_database
        quiet = await ledger.snapshot()
        await asyncio.sleep(QUIET)
        first = await ledger.snapshot()
        orders = await run()
        ended = time.time()
        await asyncio.sleep(SETTLE)  # the pass's last commits reach pg_stat_database
        last = await ledger.snapshot()
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    marks = {"quiet": quiet.at, "first": first.at, "pass_ended": ended, "last": last.at}
    return per_order(quiet, first, last, orders) | {"server": server, "marks": marks}


def per_order(quiet: Snapshot, first: Snapshot, last: Snapshot, orders: int) -> dict[str, Any]:
    """What ``first`` -> ``last`` cost per order, less the background rate of ``quiet`` ->
    ``first`` (an idle window, counted the same way)."""
    window, idle = last.at - first.at, first.at - quiet.at
    per = max(orders, 1)

    def net(before: float, after: float, idle_before: float) -> float:
        """What was counted in the window, less the idle rate over it, per order."""
        background = (before - idle_before) / idle * window if idle > 0 else 0.0
        return max(after - before - background, 0.0) / per

    services: dict[str, Any] = {}
    for name, counts in last.statements.items():
        was, quiet_was = first.statements[name], quiet.statements[name]
        kinds: dict[str, dict[str, float]] = {}
        for key, count in sorted(counts.items()):
            value = net(was.get(key, 0), count, quiet_was.get(key, 0))
            kinds.setdefault(key[0], {})[key[1]] = value
        services[name] = {
            "statements": sum(sum(by_kind.values()) for by_kind in kinds.values()),
            "commits": net(*(_committed(s, name) for s in (first, last, quiet))),
            "xact_commit": net(*(s.commits.get(name, 0) for s in (first, last, quiet))),
            "kinds": kinds,
            "idle_statements_per_s": (sum(was.values()) - sum(quiet_was.values())) / idle,
            "idle_commits_per_s": (_committed(first, name) - _committed(quiet, name)) / idle,
            "idle_xact_commit_per_s": (first.commits.get(name, 0) - quiet.commits.get(name, 0))
            / idle,
        }
    return {"orders": orders, "seconds": window, "services": services}


def _committed(snapshot: Snapshot, service: str) -> int:
    """Transactions ``service`` committed so far, as it counted them."""
    counts = snapshot.statements[service]
    return (
        sum(n for (_, kind), n in counts.items() if kind == "COMMIT")
        + snapshot.autocommits[service]
    )
