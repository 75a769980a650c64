"""Dashboards as data: what each Grafana panel shows and what question it answers.

Owns the platform's dashboards (messaging, outbox and inbox, HTTP) as plain values, and the
``Graph`` a service uses to add panels of its own (``Service(dashboard=[...])``). Each panel is
PromQL over the metrics in ``metrics`` and RabbitMQ's ``rabbitmq_prometheus`` plugin; rendering
to Grafana JSON is the CLI's business (``warren dashboards``), so nothing here imports Grafana.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["timeseries", "stat"]


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a panel and the legend of its series (``{{queue}}``)."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Graph:
    """One panel: a title, the question it answers, its unit and its queries.

    ``unit`` is a Grafana unit id (``ops``, ``s``, ``short``, ``percentunit``); ``kind`` is a
    time series or a single stat.
    """

    title: str
    answers: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: Kind = "timeseries"


@dataclass(frozen=True)
class Section:
    """A titled row of panels."""

    title: str
    graphs: tuple[Graph, ...]


@dataclass(frozen=True)
class Board:
    """A dashboard: its stable uid, title, what it is for, and its rows."""

    uid: str
    title: str
    purpose: str
    sections: tuple[Section, ...] = field(default_factory=tuple)


RATE = "[$__rate_interval]"
WORK_QUEUE = 'queue!~".*\\\\.(dlq|unrouted)|.*\\\\.retry\\\\..*"'


def _quantile(q: float, metric: str, by: str) -> str:
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{RATE})))"


MESSAGING = Board(
    uid="warren-messaging",
    title="Warren — messaging",
    purpose="Per work queue: throughput, backlog, retries, dead letters and handler latency.",
    sections=(
        Section(
            "Throughput and backlog",
            (
                Graph(
                    "Messages handled",
                    "How many deliveries each queue handles, and how (ack, retry, dead_letter)?",
                    (
                        Query(
                            f"sum by (queue, outcome) (rate(warren_messages_consumed_total{RATE}))",
                            "{{queue}} {{outcome}}",
                        ),
                    ),
                    unit="ops",
                ),
                Graph(
                    "Queue depth",
                    "How many messages wait in each work queue (ready) or are in flight (unacked)?",
                    (
                        Query(
                            f"max by (queue) (rabbitmq_queue_messages_ready{{{WORK_QUEUE}}})",
                            "{{queue}} ready",
                        ),
                        Query(
                            f"max by (queue) (rabbitmq_queue_messages_unacked{{{WORK_QUEUE}}})",
                            "{{queue}} unacked",
                        ),
                    ),
                ),
                Graph(
                    "Consumers",
                    "Does every work queue have consumers?",
                    (
                        Query(
                            f"max by (queue) (rabbitmq_queue_consumers{{{WORK_QUEUE}}})",
                            "{{queue}}",
                        ),
                    ),
                ),
            ),
        ),
        Section(
            "Failures",
            (
                Graph(
                    "Retries",
                    "Which queues retry deliveries, and for which errors?",
                    (
                        Query(
                            "sum by (queue, error_type) "
                            f"(rate(warren_messages_retried_total{RATE}))",
                            "{{queue}} {{error_type}}",
                        ),
                    ),
                    unit="ops",
                ),
                Graph(
                    "Dead-lettered",
                    "Which queues give up on deliveries, and why?",
                    (
                        Query(
                            "sum by (queue, error_type) "
                            f"(rate(warren_messages_dead_lettered_total{RATE}))",
                            "{{queue}} {{error_type}}",
                        ),
                    ),
                    unit="ops",
                ),
                Graph(
                    "DLQ depth",
                    "How many messages wait for an operator in each dead-letter queue?",
                    (
                        Query(
                            'max by (queue) (rabbitmq_queue_messages{queue=~".*\\\\.dlq"})',
                            "{{queue}}",
                        ),
                    ),
                ),
            ),
        ),
        Section(
            "Latency",
            (
                Graph(
                    "Handler time p50 / p99",
                    "How long does each queue's handler (its whole unit of work) take?",
                    (
                        Query(
                            _quantile(0.5, "warren_handler_duration_seconds", "queue"),
                            "{{queue}} p50",
                        ),
                        Query(
                            _quantile(0.99, "warren_handler_duration_seconds", "queue"),
                            "{{queue}} p99",
                        ),
                    ),
                    unit="s",
                ),
            ),
        ),
    ),
)

OUTBOX = Board(
    uid="warren-outbox",
    title="Warren — outbox and inbox",
    purpose="Is every committed event published promptly, and are duplicates absorbed?",
    sections=(
        Section(
            "Outbox",
            (
                Graph(
                    "Pending rows",
                    "How many committed events wait to be published, per service?",
                    (Query("max by (job) (warren_outbox_pending_messages)", "{{job}}"),),
                ),
                Graph(
                    "Oldest pending row",
                    "How long has the oldest unpublished event waited (the outbox alert)?",
                    (Query("max by (job) (warren_outbox_oldest_pending_age_seconds)", "{{job}}"),),
                    unit="s",
                ),
                Graph(
                    "Publish lag p99",
                    "How long from commit to the broker's confirm?",
                    (
                        Query(
                            _quantile(0.99, "warren_outbox_publish_lag_seconds", "job"),
                            "{{job}}",
                        ),
                    ),
                    unit="s",
                ),
            ),
        ),
        Section(
            "Inbox and publishing",
            (
                Graph(
                    "Duplicates skipped",
                    "How many redeliveries did the inbox recognise and skip?",
                    (
                        Query(
                            f"sum by (consumer) (rate(warren_inbox_duplicates_total{RATE}))",
                            "{{consumer}}",
                        ),
                    ),
                    unit="ops",
                ),
                Graph(
                    "Events published",
                    "Which events does each exchange publish, and with what outcome?",
                    (
                        Query(
                            "sum by (event_type, outcome) "
                            f"(rate(warren_messages_published_total{RATE}))",
                            "{{event_type}} {{outcome}}",
                        ),
                    ),
                    unit="ops",
                ),
            ),
        ),
    ),
)

HTTP = Board(
    uid="warren-http",
    title="Warren — HTTP",
    purpose="Per service and route: request rate, errors and latency of the APIs.",
    sections=(
        Section(
            "Requests",
            (
                Graph(
                    "Requests by status",
                    "How many requests does each route answer, with which status?",
                    (
                        Query(
                            f"sum by (job, route, status) (rate(warren_http_requests_total{RATE}))",
                            "{{job}} {{route}} {{status}}",
                        ),
                    ),
                    unit="reqps",
                ),
                Graph(
                    "Client errors",
                    "What share of requests is refused (4xx: bad input, no token, not found)?",
                    (
                        Query(
                            "sum by (job) "
                            f'(rate(warren_http_requests_total{{status=~"4.."}}{RATE}))'
                            f" / sum by (job) (rate(warren_http_requests_total{RATE}))",
                            "{{job}}",
                        ),
                    ),
                    unit="percentunit",
                ),
                Graph(
                    "Latency p99",
                    "How long do the slowest requests of each route take?",
                    (
                        Query(
                            _quantile(0.99, "warren_http_request_duration_seconds", "job, route"),
                            "{{job}} {{route}}",
                        ),
                    ),
                    unit="s",
                ),
            ),
        ),
    ),
)

PLATFORM: tuple[Board, ...] = (MESSAGING, OUTBOX, HTTP)
"""The platform's dashboards: every project built on Warren gets them."""
