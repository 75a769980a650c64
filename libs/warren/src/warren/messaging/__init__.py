"""Typed events on RabbitMQ: topology as code, confirmed publishing, one consumer loop.

``Broker`` publishes; ``Consumer`` consumes a ``WorkQueue`` whose handler table is its routing;
handlers raise ``PermanentError`` to dead-letter, anything else to retry. Before any handler runs,
the consumer admits a message only the way its type's owner publishes it (``UntrustedSource``).
"""

from warren.messaging._broker import Broker
from warren.messaging._consumer import Consumer
from warren.messaging._definitions import (
    Permission,
    ServiceTopology,
    definitions,
    password_hash,
    permission,
    user_name,
    user_prefix,
)
from warren.messaging._delivery import Delivery
from warren.messaging._edge import ORIGINAL_USER
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
from warren.messaging._message import OutgoingMessage, prepare
from warren.messaging._nodes import node_urls
from warren.messaging._relay import OutboxRelay, to_record
from warren.messaging._topology import (
    Handler,
    RetryPolicy,
    WorkQueue,
    dead_letter_exchange,
    events_exchange,
    retry_exchange,
    unrouted_exchange,
)

__all__ = [
    "ORIGINAL_USER",
    "Broker",
    "Consumer",
    "Delivery",
    "Handler",
    "MalformedMessage",
    "MessageTooLarge",
    "OutboxRelay",
    "OutgoingMessage",
    "PermanentError",
    "Permission",
    "PublishError",
    "RetryPolicy",
    "SchemaViolation",
    "ServiceTopology",
    "TopologyError",
    "UnexpectedEventType",
    "UnroutableError",
    "UntrustedSource",
    "WorkQueue",
    "dead_letter_exchange",
    "definitions",
    "events_exchange",
    "node_urls",
    "password_hash",
    "permission",
    "prepare",
    "retry_exchange",
    "to_record",
    "unrouted_exchange",
    "user_name",
    "user_prefix",
]
