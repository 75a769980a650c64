"""Turning raw run results into the tables of ``bench/RESULTS.md`` (and of the terminal).

Owns aggregation (medians over rounds, ratios to raw aio-pika), the targets of issues 8 and 16
with an honest met / not met, and the Markdown (the saga's section is ``bench.comparison``).
Pure: it reads dictionaries, returns strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.markdown import fmt as _fmt
from bench.markdown import table as _table
from bench.plan import FASTSTREAM, RAW, TRACED_10, WARREN, Case
from bench.stats import median

Run = tuple[Case, dict[str, Any]]


def summarise(runs: Sequence[Run]) -> dict[str, dict[str, dict[str, Any]]]:
    """group -> contender label -> medians of every measure over its rounds."""
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for case, result in runs:
        grouped.setdefault(case.group, {}).setdefault(case.name, []).append(result)
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for group, by_name in grouped.items():
        summary[group] = {}
        for name, results in by_name.items():
            keys = [k for k, v in results[0].items() if isinstance(v, int | float)]
            row: dict[str, Any] = {k: median([r[k] for r in results if k in r]) for k in keys}
            row["rates"] = [r["rate"] for r in results]
            summary[group][name] = row
    return summary


def messaging_tables(summary: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One table per group: throughput groups with ratios, latency groups with percentiles."""
    parts = []
    for group, rows in summary.items():
        raw = rows.get(RAW, {})
        parts.append(f"### {group}")
        if group.startswith("latency"):
            header = ["contender", "msgs/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "CPU µs/msg"]
            body = [
                [
                    name,
                    _fmt(r["rate"]),
                    _fmt(r["p50"], 1),
                    _fmt(r["p95"], 1),
                    _fmt(r["p99"], 1),
                    _fmt(r["max"], 1),
                    _fmt(r["cpu_us_per_msg"]),
                ]
                for name, r in rows.items()
            ]
        else:
            header = [
                "contender",
                "msgs/s",
                "/ raw",
                "CPU µs/msg",
                "CPU / raw",
                "client CPU",
                "broker CPU",
                "each round (msgs/s)",
            ]
            body = [
                [
                    name,
                    _fmt(r["rate"]),
                    _ratio(r["rate"], raw.get("rate")),
                    _fmt(r["cpu_us_per_msg"]),
                    _ratio(r["cpu_us_per_msg"], raw.get("cpu_us_per_msg")),
                    f"{r['client_cpu']:.0%}",
                    f"{r['broker_cpu']:.0%}",
                    ", ".join(_fmt(x) for x in r["rates"]),
                ]
                for name, r in rows.items()
            ]
        parts.append(_table(header, body))
    return "\n\n".join(parts)


def _ratio(value: float | None, base: float | None) -> str:
    if not value or not base:
        return "—"
    return f"{value / base:.2f}"


def outbox_tables(outbox: dict[str, Any]) -> str:
    """Drain throughput and the lag at each rate."""
    drain = outbox["drain"]
    head = _table(
        ["rows", "seconds", "rows/s", "relay process CPU", "broker CPU", "postgres CPU"],
        [
            [
                str(drain["rows"]),
                _fmt(drain["seconds"], 2),
                _fmt(drain["rate"]),
                f"{drain['cpu']['relay process']:.2f}",
                f"{drain['cpu']['rabbitmq']:.2f}",
                f"{drain['cpu']['postgres']:.2f}",
            ]
        ],
    )
    lag = _table(
        ["offered rows/s", "rows", "lag p50 ms", "p95 ms", "p99 ms", "max ms"],
        [
            [
                _fmt(r["rate"]),
                str(r["rows"]),
                *(_fmt(r[k], 1) for k in ("p50", "p95", "p99", "max")),
            ]
            for r in outbox["lag"]
        ],
    )
    return "\n\n".join(
        [
            "**Drain** (rows written first, then one relay started):",
            head,
            "**Commit-to-publish lag** (relay running, rows written by `Writer.execute` at a"
            " fixed rate):",
            lag,
        ]
    )


def targets(
    summary: dict[str, dict[str, dict[str, Any]]],
    saga: dict[str, Any] | None,
    outbox: dict[str, Any] | None,
) -> str:
    """Issue 8's and 16's targets against this run's medians: met / not met, with the numbers.

    ``saga`` is the "after" contender's summary (``bench.comparison.contenders``).
    """
    rows: list[list[str]] = []

    def check(
        what: str, value: float | None, goal: str, met: bool | None, by_cpu: str = "—"
    ) -> None:
        verdict = "not measured" if met is None else ("met" if met else "**not met**")
        rows.append([what, goal, "—" if value is None else f"{value:,.2f}", verdict, by_cpu])

    def ratio(group: str, name: str, base: str, key: str = "rate") -> float | None:
        found = summary.get(group, {})
        if name in found and base in found and found[base][key] and found[name][key]:
            if key == "rate":
                return float(found[name][key] / found[base][key])
            return float(found[base][key] / found[name][key])  # less CPU per message is better
        return None

    def throughput(group: str, name: str, base: str, goal: float) -> None:
        value = ratio(group, name, base)
        cpu = ratio(group, name, base, "cpu_us_per_msg")
        by_cpu = "—" if cpu is None else f"{cpu:.2f} ({'met' if cpu >= goal else 'not met'})"
        met = None if value is None else value >= goal
        label = "FastStream" if base == FASTSTREAM else "raw"
        check(f"{name} {group} / {label}", value, f"≥ {goal:.2f}", met, by_cpu)

    for group in ("publish", *(f"consume prefetch {p}" for p in (1, 10, 100))):
        throughput(group, WARREN, RAW, 0.9)
        throughput(group, WARREN, FASTSTREAM, 1.3)
    for group in ("publish", "consume prefetch 100"):
        throughput(group, "warren traced", RAW, 0.75)
        throughput(group, TRACED_10, RAW, 0.75)
    for name in (WARREN, "warren traced"):
        p99 = summary.get("latency at 1000/s", {}).get(name, {}).get("p99")
        check(
            f"{name} e2e p99 at 1,000 msgs/s (ms)", p99, "≤ 10", None if p99 is None else p99 <= 10
        )
    if saga is not None:
        rate = saga["saturation"]["rate"]
        check("saga orders/s at saturation (after)", rate, "≥ 150", rate >= 150)
        for offered, goal in ((50.0, 1000.0), (100.0, 500.0)):  # issue 8, issue 16
            p99 = saga["paced"].get(offered, {}).get("p99")
            check(
                f"saga p99 POST → confirmed at {offered:.0f}/s (ms, after)",
                p99,
                f"< {goal:,.0f}",
                None if p99 is None else p99 < goal,
            )
    else:
        check("saga", None, "≥ 150 orders/s; p99 < 1 s at 50/s, < 500 ms at 100/s", None)
    if outbox is not None:
        lag = next((r for r in outbox["lag"] if r["rate"] <= 50), outbox["lag"][0])
        check(
            f"outbox lag p99 at {lag['rate']:.0f} rows/s (ms)", lag["p99"], "< 50", lag["p99"] < 50
        )
    else:
        check("outbox lag p99", None, "< 50 ms", None)
    header = ["target", "goal", "this run", "verdict", "same ratio by CPU µs/msg"]
    return _table(header, rows)


def micro_table(micro: dict[str, float]) -> str:
    """The per-step costs, in the order measured."""
    return _table(["step", "µs"], [[name, _fmt(us, 1)] for name, us in micro.items()])


def versions_table(versions: dict[str, str], facts: dict[str, Any]) -> str:
    """Stack versions and machine facts side by side."""
    left = [[k, v] for k, v in versions.items()]
    right = [[k, str(v)] for k, v in facts.items()]
    return _table(["software", "version"], left) + "\n\n" + _table(["machine", ""], right)
