"""The saga before and after: medians per contender over the rounds, and the section's tables.

Owns "The saga: before and after" in ``bench/RESULTS.md`` and the saga numbers the targets read.
Pure: it reads what ``bench.__main__`` collected (each contender's runs, round by round) and
returns numbers and Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.markdown import fmt as _fmt
from bench.markdown import table as _table
from bench.stats import median

BEFORE, AFTER = "before", "after"


def contenders(saga: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Contender -> medians over its successful runs (before first)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in _runs(saga):
        if "error" not in run:
            grouped.setdefault(run["contender"], []).append(run)
    order = sorted(grouped, key=lambda name: (name != BEFORE, name != AFTER, name))
    return {name: _summary(grouped[name]) for name in order}


def _runs(saga: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "runs" in saga:
        return list(saga["runs"])
    # A results file from before the before/after runs: one run of this tree.
    return [{**saga, "contender": AFTER, "paced": [*saga.get("lower", []), saga["paced"]]}]


def _summary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    saturation = [_per_order(run["saturation"]) for run in runs]
    offered = dict.fromkeys(phase["offered"] for run in runs for phase in run["paced"])
    counted = [run["accounting"] for run in runs if "accounting" in run]
    loaded = [run["accounting_loaded"] for run in runs if "accounting_loaded" in run]
    return {
        "rounds": len(runs),
        "rates": [sat["rate"] for sat in saturation],
        "saturation": _medians(saturation),
        "paced": {
            rate: _medians([p for run in runs for p in run["paced"] if p["offered"] == rate])
            for rate in offered
        },
        "accounting": _medians(counted) if counted else None,
        "accounting_loaded": _medians(loaded) if loaded else None,
        "code": runs[0].get("code", {}),
        "prefetch": runs[0].get("prefetch", {}),
    }


def _per_order(sat: Mapping[str, Any]) -> dict[str, Any]:
    """``sat`` with CPU ms per order (results from before it was measured: from the shares)."""
    if "cpu_ms_per_order" in sat:
        return dict(sat)
    rate = sat["rate"] or float("nan")
    return {**sat, "cpu_ms_per_order": {k: v * 1000 / rate for k, v in sat["cpu"].items()}}


def _medians(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The median of every number, at any depth, over dictionaries of the same shape."""
    out: dict[str, Any] = {}
    for key in dict.fromkeys(k for item in items for k in item):
        values = [item[key] for item in items if key in item]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            out[key] = median(values)
        elif all(isinstance(v, dict) for v in values):
            out[key] = _medians(values)
    return out


def _pct(summary: Mapping[str, Any], rate: float, key: str) -> float | None:
    phase = summary["paced"].get(rate)
    return None if phase is None else phase.get(key)


def section(saga: Mapping[str, Any]) -> str:
    """The whole section: headline, phases, CPU, hops, statements and commits."""
    found = contenders(saga)
    if not found:
        return "Every saga run failed: " + "; ".join(
            f"{r['contender']} round {r.get('round')}: {r['error'][:300]}" for r in _runs(saga)
        )
    rates = list(dict.fromkeys(rate for s in found.values() for rate in s["paced"]))
    parts = [
        _provenance(saga, found),
        _headline(found, rates),
        "**Each phase** (medians over the rounds):",
        _phases(found),
        "**CPU per order at saturation** (ms of CPU per confirmed order, each process):",
        _cpu_per_order(found),
        "**Who used the cores** (1.0 = one core busy):",
        _cores(found),
    ]
    for name, summary in found.items():
        parts += [f"**Where the time goes, {name}** (from each event's CloudEvents `time`):"]
        parts += [_hops(summary)]
    counted = {name: s["accounting"] for name, s in found.items() if s["accounting"]}
    if counted:
        parts += _accounting(counted)
    loaded = {n: s["accounting_loaded"] for n, s in found.items() if s.get("accounting_loaded")}
    if loaded:
        parts += _accounting_loaded(loaded)
    return "\n\n".join(parts)


def _provenance(saga: Mapping[str, Any], found: Mapping[str, Any]) -> str:
    lines = []
    before, after = saga.get("baseline"), saga.get("current")
    if before:
        lines.append(
            f"- **before**: `{before['ref']}` (`{before['commit'][:12]}`), a copy of that tree;"
            f" its services imported `warren` from `{_warren_file(found.get(BEFORE))}`"
            f"{_prefetch(found.get(BEFORE))}."
        )
    if after:
        dirty = ", with uncommitted changes" if after.get("dirty") else ""
        lines.append(
            f"- **after**: this tree (`{after['commit'][:12]}`{dirty}); its services imported"
            f" `warren` from `{_warren_file(found.get(AFTER))}`{_prefetch(found.get(AFTER))}."
        )
    failed = [r for r in saga.get("runs", []) if "error" in r]
    lines += [f"- FAILED: {r['contender']} round {r['round']}: {r['error'][:300]}" for r in failed]
    rounds = max(s["rounds"] for s in found.values())
    lines.append(
        f"- {rounds} round(s), interleaved (round 1 before then after, round 2 after then"
        " before, …), each run a process of its own with its own vhost and databases."
    )
    return "\n".join(lines)


def _prefetch(summary: Mapping[str, Any] | None) -> str:
    """The prefetch of each of its consumers, as the broker reported it (each tree's defaults)."""
    seen = summary.get("prefetch") if summary else None
    if not seen:
        return ""
    values = sorted(set(seen.values()))
    return "; its consumers' prefetch (the broker's count): " + ", ".join(map(str, values))


def _warren_file(summary: Mapping[str, Any] | None) -> str:
    if not summary or not summary["code"]:
        return "?"
    files = {f.get("warren") for f in summary["code"].values()}
    return ", ".join(sorted(str(f) for f in files))


def _headline(found: Mapping[str, dict[str, Any]], rates: Sequence[float]) -> str:
    header = ["contender", "orders/s at saturation", "each round"]
    header += [f"p50 / p99 at {rate:.0f}/s (ms)" for rate in rates]
    header += ["CPU ms/order (machine)", "statements/order", "commits/order", "xact_commit/order"]
    rows = []
    for name, s in found.items():
        counted = s["accounting"]
        rows.append(
            [
                f"**{name}**",
                _fmt(s["saturation"]["rate"], 1),
                ", ".join(_fmt(r, 1) for r in s["rates"]),
                *(f"{_fmt(_pct(s, rate, 'p50'))} / {_fmt(_pct(s, rate, 'p99'))}" for rate in rates),
                _fmt(s["saturation"]["cpu_ms_per_order"].get("machine"), 1),
                _fmt(_total(counted, "statements"), 1),
                _fmt(_total(counted, "commits"), 2),
                _fmt(_total(counted, "xact_commit"), 2),
            ]
        )
    return _table(header, rows)


def _total(counted: Mapping[str, Any] | None, key: str) -> float | None:
    if not counted:
        return None
    values = [service[key] for service in counted["services"].values() if key in service]
    return float(sum(values)) if values else None


def _phases(found: Mapping[str, dict[str, Any]]) -> str:
    header = ["contender", "phase", "confirmed/s", "orders", "p50 ms", "p95 ms", "p99 ms"]
    header += ["max ms", "POST p50 ms"]
    rows = []
    for name, s in found.items():
        for rate, phase in s["paced"].items():
            rows.append(
                [
                    name,
                    f"paced, offered {rate:.0f}/s",
                    _fmt(phase.get("completed_per_s"), 1),
                    f"{_fmt(phase['orders'])}/{_fmt(phase['expected'])}",
                    *(_fmt(phase.get(k)) for k in ("p50", "p95", "p99", "max", "post_p50")),
                ]
            )
        sat = s["saturation"]
        rows.append(
            [
                name,
                f"saturation, {sat['concurrency']:.0f} customers",
                _fmt(sat["rate"], 1),
                _fmt(sat["orders"]),
                *(_fmt(sat.get(k)) for k in ("p50", "p95", "p99", "max", "post_p50")),
            ]
        )
    return _table(header, rows)


def _cpu_per_order(found: Mapping[str, dict[str, Any]]) -> str:
    names = list(dict.fromkeys(n for s in found.values() for n in s["saturation"]["cpu"]))
    rows = [
        [
            "machine (every process)" if n == "machine" else n,
            *(_fmt(s["saturation"]["cpu_ms_per_order"].get(n), 2) for s in found.values()),
        ]
        for n in names
    ]
    return _table(["process", *(f"{name} ms/order" for name in found)], rows)


def _cores(found: Mapping[str, dict[str, Any]]) -> str:
    columns = [
        (f"{name} {label}", phase["cpu"])
        for name, s in found.items()
        for label, phase in [
            *((f"{rate:.0f}/s", p) for rate, p in s["paced"].items()),
            ("saturation", s["saturation"]),
        ]
    ]
    names = list(dict.fromkeys(n for _, cpu in columns for n in cpu))
    rows = [[n, *(_fmt(cpu.get(n), 2) for _, cpu in columns)] for n in names]
    return _table(["process", *(label for label, _ in columns)], rows)


def _hops(summary: Mapping[str, Any]) -> str:
    columns = [(f"{rate:.0f}/s", p) for rate, p in summary["paced"].items()]
    columns.append(("saturation", summary["saturation"]))
    names = list(summary["saturation"].get("hops", {}))
    rows = [
        [
            name,
            *(_fmt(c["hops"].get(name, {}).get(k), 1) for _, c in columns for k in ("p50", "p99")),
        ]
        for name in names
    ]
    header = ["hop", *(f"{label} {k} ms" for label, _ in columns for k in ("p50", "p99"))]
    return _table(header, rows)


def _accounting(counted: Mapping[str, dict[str, Any]]) -> list[str]:
    """Statements and commits per order by service, then by step and kind."""
    names = list(counted)
    services = list(dict.fromkeys(s for c in counted.values() for s in c["services"]))
    first = next(iter(counted.values()))
    intro = (
        "**Statements (round trips) and commits per order**: a pass of its own at"
        f" {first['rate']:.0f} orders/s for {first.get('pass_seconds', 0):.0f} s after the timed"
        " phases of each contender's first run. Every asyncpg connection of every service"
        " counts what it sends (a query logger, `bench/service_site`); *commits* are the"
        " transactions the services committed by their own count (`COMMIT`s, and statements"
        " sent outside a transaction), *xact_commit* the server's count for the service's"
        " database (`pg_stat_database`: every transaction there, which includes one for each"
        " batch of notifications a LISTEN connection reads — the relays' wake-ups). The idle"
        " background (relay polls, sweeps) is measured just before and taken off."
    )
    measures = [
        ("statements", 1),
        ("commits", 2),
        ("xact_commit", 2),
        ("idle_statements_per_s", 1),
        ("idle_xact_commit_per_s", 1),
    ]

    def value(name: str, service: str, key: str, digits: int) -> str:
        found = counted[name]["services"].get(service, {})
        return _fmt(found.get(key), digits)

    rows = [
        [service, *(value(n, service, key, d) for key, d in measures for n in names)]
        for service in services
    ]
    rows.append(
        [
            "**all**",
            *(_fmt(_total(counted[n], key), d) for key, d in measures[:3] for n in names),
            *("" for _ in measures[3:] for _ in names),
        ]
    )
    labels = ["statements", "commits", "xact_commit", "idle statements/s", "idle xact_commit/s"]
    header = ["service", *(f"{label} {n}" for label in labels for n in names)]
    return [
        intro,
        _table(header, rows),
        "**By step and kind** (statements per order):",
        _kinds(counted),
    ]


def _accounting_loaded(counted: Mapping[str, dict[str, Any]]) -> list[str]:
    """The same counts near capacity, where deliveries wait together (group commit)."""
    names = list(counted)
    services = list(dict.fromkeys(s for c in counted.values() for s in c["services"]))
    first = next(iter(counted.values()))
    intro = (
        f"**Under load**: the same counting pass at {first['rate']:.0f} orders/s, where a"
        " service's deliveries queue for its transactions (with group commit they then share"
        " one)."
    )
    measures = [("statements", 1), ("commits", 2), ("xact_commit", 2)]

    def value(name: str, service: str, key: str, digits: int) -> str:
        return _fmt(counted[name]["services"].get(service, {}).get(key), digits)

    rows = [
        [service, *(value(n, service, key, d) for key, d in measures for n in names)]
        for service in services
    ]
    rows.append(
        ["**all**", *(_fmt(_total(counted[n], key), d) for key, d in measures for n in names)]
    )
    header = ["service", *(f"{key} {n}" for key, _ in measures for n in names)]
    return [intro, _table(header, rows)]


def _kinds(counted: Mapping[str, dict[str, Any]]) -> str:
    """Service · step · kind, and each step's total (its round trips per order)."""
    steps: dict[tuple[str, str], dict[str, None]] = {}
    for c in counted.values():
        for service, found in c["services"].items():
            for step, kinds in found["kinds"].items():
                steps.setdefault((service, step), {}).update(dict.fromkeys(kinds))
    rows = []
    for (service, step), kinds in steps.items():
        found = [
            c["services"].get(service, {}).get("kinds", {}).get(step, {}) for c in counted.values()
        ]
        if not any(sum(by_kind.values()) >= 0.005 for by_kind in found):
            continue
        for kind in kinds:
            values = [by_kind.get(kind) for by_kind in found]
            if any(v is not None and v >= 0.005 for v in values):
                rows.append([service, step, f"`{kind}`", *(_fmt(v, 2) for v in values)])
        totals = [f"**{_fmt(sum(by_kind.values()), 2)}**" for by_kind in found]
        rows.append([service, step, "**all**", *totals])
    return _table(["service", "step", "kind", *counted], rows)
