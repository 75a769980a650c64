"""Typed events on RabbitMQ: topology as code, confirmed publishing, one consumer loop.

``Broker`` publishes; ``Consumer`` consumes a ``WorkQueue`` whose handler table is its routing;
handlers raise ``PermanentError`` to dead-letter, anything else to retry. Before any handler runs,
the consumer admits a message only the way its type's owner publishes it (``UntrustedSource``).

What the platform's runtime and CLI need beyond that lives in public modules named by their noun:
``topology`` (exchange names, queue arguments), ``definitions`` (the broker's users, permissions
and ``definitions.json``), ``edge`` (where each event type may come from), ``message`` (an
outgoing message), ``relay`` (the outbox relay), ``nodes`` (a cluster's AMQP URL) and ``url``
(an AMQP URL's vhost, credentials and management API). Never import its ``_``-modules.
"""

from warren.messaging._broker import Broker
from warren.messaging._consumer import Consumer
from warren.messaging._delivery import Delivery
from warren.messaging._errors import (
    MalformedMessage,
    MessageTooLarge,
    PermanentError,
    PublishError,
    SchemaViolation,
    TopologyError,
    UnexpectedEventType,
    UnroutableError,
    UntrustedSource,
)
from warren.messaging.topology import Handler, RetryPolicy, WorkQueue

__all__ = [
    "Broker",
    "Consumer",
    "Delivery",
    "Handler",
    "MalformedMessage",
    "MessageTooLarge",
    "PermanentError",
    "PublishError",
    "RetryPolicy",
    "SchemaViolation",
    "TopologyError",
    "UnexpectedEventType",
    "UnroutableError",
    "UntrustedSource",
    "WorkQueue",
]
