"""The messaging metrics as the hot path moves them: label children resolved once, then kept.

Owns the bridge between ``telemetry.metrics`` (names and labels) and the broker and consumer:
one ``ConsumeMeter`` per queue and event type, one ``PublishMeter`` per broker, so counting a
message is an attribute read and an ``inc()``, not a ``labels()`` lookup. Counts only; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from warren.telemetry import metrics


@dataclass(frozen=True, slots=True)
class ConsumeMeter:
    """What a consumer counts for one queue and event type."""

    queue: str
    event_type: str
    acked: Any
    retried: Any
    dead_lettered: Any
    duration: Any
    """Histogram child: seconds spent in the handler, whatever its outcome."""

    @classmethod
    def of(cls, queue: str, event_type: str) -> ConsumeMeter:
        """The children for ``queue`` and ``event_type``, resolved now."""
        consumed = metrics.MESSAGES_CONSUMED
        return cls(
            queue=queue,
            event_type=event_type,
            acked=consumed.labels(queue, event_type, "ack"),
            retried=consumed.labels(queue, event_type, "retry"),
            dead_lettered=consumed.labels(queue, event_type, "dead_letter"),
            duration=metrics.HANDLER_DURATION.labels(queue, event_type),
        )

    def count_retry(self, error_type: str) -> None:
        """A delivery went to a delay queue because its handler raised ``error_type``."""
        self.retried.inc()
        metrics.MESSAGES_RETRIED.labels(self.queue, self.event_type, error_type).inc()

    def count_dead_letter(self, error_type: str) -> None:
        """A delivery went to the DLQ because of ``error_type``."""
        self.dead_lettered.inc()
        metrics.MESSAGES_DEAD_LETTERED.labels(self.queue, self.event_type, error_type).inc()


class PublishMeter:
    """What a broker counts: publishes by exchange, event type and outcome."""

    def __init__(self) -> None:
        self._ok: dict[str, dict[str, Any]] = {}

    def count_ok(self, exchange: str, event_type: str) -> None:
        """A confirmed publish; its counter child is kept for the next one."""
        by_type = self._ok.get(exchange)
        if by_type is None:
            by_type = self._ok[exchange] = {}
        child = by_type.get(event_type)
        if child is None:
            child = by_type[event_type] = metrics.MESSAGES_PUBLISHED.labels(
                exchange, event_type, "ok"
            )
        child.inc()

    def count_failure(self, exchange: str, event_type: str, outcome: str) -> None:
        """A publish that raised (``unroutable`` or ``failed``): rare, so resolved each time."""
        metrics.MESSAGES_PUBLISHED.labels(exchange, event_type, outcome).inc()
