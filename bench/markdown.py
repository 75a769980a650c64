"""Markdown for bench/RESULTS.md: a number as the tables show it, and a table.

Shared by the messaging report and the saga's before/after comparison; it knows no measure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def fmt(value: float | None, digits: int = 0) -> str:
    """``value`` with thousands separators and ``digits`` decimals; an em dash when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
