"""Every Prometheus metric a Warren service exposes on ``/metrics``, in one place.

Owns the names, help texts, labels and buckets, and the exposition of the process's registry.
The metrics live in prometheus-client's default registry, as that library intends: one set per
process, defined once. The code that moves a metric lives where the thing it counts happens
(``warren.messaging``, the HTTP edge); code on a hot path resolves its label children once and
keeps them, instead of calling ``labels()`` for every message.

Label values are bounded sets: event types a queue knows (anything else counts as ``other``),
exchange and queue names, exception class names, route templates (never raw paths).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

OTHER = "other"
"""The ``event_type`` label of a message whose type the queue does not know."""

_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

MESSAGES_PUBLISHED = Counter(
    "warren_messages_published",
    "Messages sent to the broker, by exchange, event type and outcome "
    "(ok = confirmed, unroutable, failed).",
    ["exchange", "event_type", "outcome"],
)
MESSAGES_CONSUMED = Counter(
    "warren_messages_consumed",
    "Deliveries handled by a consumer, by queue, event type and outcome (ack, retry, dead_letter).",
    ["queue", "event_type", "outcome"],
)
MESSAGES_RETRIED = Counter(
    "warren_messages_retried",
    "Deliveries sent to a delay queue for another attempt, by queue, event type and error type.",
    ["queue", "event_type", "error_type"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "warren_messages_dead_lettered",
    "Deliveries moved to their queue's DLQ, by queue, event type and error type.",
    ["queue", "event_type", "error_type"],
)
MESSAGES_UNTRUSTED = Counter(
    "warren_messages_untrusted",
    "Deliveries refused at the message edge (dead-lettered as UntrustedSource), by queue, the "
    "claimed event type and the first mismatch: exchange, routing_key, type, source or user.",
    ["queue", "event_type", "reason"],
)
HANDLER_DURATION = Histogram(
    "warren_handler_duration_seconds",
    "Time spent in a message handler (its whole unit of work), by queue and event type.",
    ["queue", "event_type"],
    buckets=_LATENCY_BUCKETS,
)
INBOX_DUPLICATES = Counter(
    "warren_inbox_duplicates",
    "Redelivered messages the inbox recognised and skipped, by consumer and event type.",
    ["consumer", "event_type"],
)
OUTBOX_PENDING = Gauge(
    "warren_outbox_pending_messages",
    "Outbox rows written but not yet published (refreshed when /metrics is scraped).",
)
OUTBOX_OLDEST_PENDING = Gauge(
    "warren_outbox_oldest_pending_age_seconds",
    "Age of the oldest unpublished outbox row, 0 when none (refreshed when /metrics is scraped).",
)
OUTBOX_PUBLISH_LAG = Histogram(
    "warren_outbox_publish_lag_seconds",
    "Time from an outbox row being written to its publish being confirmed.",
    buckets=_LAG_BUCKETS,
)
UNROUTED_MESSAGES = Gauge(
    "warren_unrouted_messages",
    "Domain events this service published that no queue was bound for, kept in its unrouted "
    "queue by the events exchange's alternate exchange (refreshed when /metrics is scraped).",
    ["service", "queue"],
)
HTTP_REQUESTS = Counter(
    "warren_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "warren_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)


def exposition() -> tuple[bytes, str]:
    """The process's metrics in the Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
