"""``bench/RESULTS.md`` as a whole: the header, the targets, each section in order, the notes.

Pure: it takes the results ``python -m bench`` collected (or a saved ``results/*.json``) and the
messaging summary, and returns the Markdown; the tables themselves come from ``bench.report``
and ``bench.comparison``, the prose from ``bench.notes``.
"""

from __future__ import annotations

from typing import Any

from bench import comparison, report
from bench.notes import FINDINGS, FOOTER, HEADER, TARGET_NOTES


def render(results: dict[str, Any], summary: dict[str, Any]) -> str:
    """The whole of RESULTS.md."""
    facts = results["facts"]
    after = (
        comparison.contenders(results["saga"]).get(comparison.AFTER) if "saga" in results else None
    )
    parts = [
        HEADER.format(
            mode="quick (smoke)" if results["quick"] else "full",
            when=facts["when"],
            load=facts["load"],
            load_end=results["load_at_end"],
            minutes=results["minutes"],
        ),
        "## Targets (issues 8 and 16)\n\n"
        + report.targets(summary, after, results.get("outbox"))
        + "\n\n"
        + TARGET_NOTES,
        "## Versions and machine\n\n" + report.versions_table(results["versions"], facts),
    ]
    if summary:
        parts.append(
            "## Messaging: raw aio-pika vs FastStream vs warren\n\n"
            + report.messaging_tables(summary)
        )
    if "micro" in results:
        parts.append(
            "## CPU per step, no broker (µs per message, best of 7)\n\n"
            + report.micro_table(results["micro"])
        )
    if "saga" in results:
        rerun = results.get("saga_rerun")
        note = f"Re-run on its own at {rerun['when']}, load {rerun['load']}.\n\n" if rerun else ""
        parts.append(
            "## The saga: before and after\n\n" + note + comparison.section(results["saga"])
        )
    if "outbox" in results:
        parts.append("## The outbox relay\n\n" + report.outbox_tables(results["outbox"]))
    profiles = [*results.get("profiles", []), *results.get("saga", {}).get("profiles", [])]
    if profiles:
        parts.append("## Profiles\n\n" + "\n".join(f"- `{p}`" for p in profiles))
    parts += [FINDINGS, FOOTER]
    return "\n\n".join(parts) + "\n"
