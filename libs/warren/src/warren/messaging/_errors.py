"""What can go wrong with a message, split by what to do about it: retry, dead-letter, or raise.

Exceptions only. ``PermanentError`` and its kin send a message to its DLQ at once; any other
exception a handler raises is transient and retried.
"""

from __future__ import annotations


class PermanentError(Exception):
    """Raise from a handler when retrying cannot help; the message goes straight to its DLQ."""


class MalformedMessage(PermanentError):
    """The body is not a CloudEvents JSON envelope (bad JSON, bad UTF-8, wrong content type)."""


class UnexpectedEventType(PermanentError):
    """The queue's handler table has no entry for this event type."""


class SchemaViolation(PermanentError):
    """The envelope's ``data`` does not satisfy the event's contract."""


class UntrustedSource(PermanentError):
    """The message did not come the way its type's owner publishes it (exchange, routing key,
    AMQP ``type``, CloudEvents ``source`` or broker-validated ``user_id`` do not match).

    ``reason`` names what did not match (``exchange``, ``routing_key``, ``type``, ``source`` or
    ``user``); the message says exactly how.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class PublishError(Exception):
    """A publish was not confirmed by the broker; the message may not have been stored."""


class MessageTooLarge(PermanentError, PublishError):
    """The body is larger than ``MAX_MESSAGE_BYTES``: refused before sending, dead-lettered when
    received (retrying cannot make it smaller)."""


class UnroutableError(PublishError):
    """The broker returned a ``mandatory`` message: no queue is bound for its routing key."""


class TopologyError(Exception):
    """The broker's topology is missing something this service may not create itself."""
