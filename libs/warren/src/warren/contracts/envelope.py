"""CloudEvents 1.0 structured mode: the JSON envelope every Warren message body is.

This module owns the envelope's shape, its encoding to bytes and its strict decoding from bytes.
It knows no broker and no event catalogue: the caller resolves ``type`` to an event class.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import to_json

from warren.contracts.event import Event
from warren.contracts.violation import describe

CONTENT_TYPE = "application/cloudevents+json"
DATA_CONTENT_TYPE: Final = "application/json"


E = TypeVar("E", bound=Event)


class EnvelopeError(ValueError):
    """The bytes are not a valid CloudEvents 1.0 JSON envelope."""


class Envelope(BaseModel):
    """A CloudEvents 1.0 event in structured mode; ``data`` is the event's JSON object.

    Extension attributes (lower-case alphanumeric names) are kept, as the spec asks.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=256)
    source: str = Field(min_length=1, max_length=1024)
    type: str = Field(min_length=1, max_length=256)
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = DATA_CONTENT_TYPE
    subject: str | None = Field(default=None, max_length=1024)
    data: dict[str, Any]


def wrap(
    event: Event,
    *,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    """Put ``event`` in an envelope from ``source`` (a URI-reference such as ``/warren/orders``)."""
    return Envelope(
        specversion="1.0",
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=event.type,
        time=time or datetime.now(UTC),
        subject=event.subject,
        data=event.model_dump(mode="json"),
    )


def serialize(event: Event, *, source: str, event_id: str, time: datetime) -> bytes:
    """The structured-mode body of ``event``: byte for byte ``encode(wrap(event, ...))``.

    The fast path for publishers: the event is already a valid model, so no ``Envelope`` is
    built and validated on the way out (half the cost per message).
    """
    return to_json(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": source,
            "type": event.type,
            "time": time,
            "datacontenttype": DATA_CONTENT_TYPE,
            "subject": event.subject,
            "data": event,
        }
    )


def encode(envelope: Envelope) -> bytes:
    """The envelope as compact UTF-8 JSON, absent optional attributes left out."""
    return envelope.model_dump_json(exclude_none=True).encode()


def decode(body: bytes) -> Envelope:
    """Parse and validate ``body``; raise :class:`EnvelopeError` saying what is wrong."""
    try:
        return Envelope.model_validate_json(body)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        if problems and problems[0]["type"] == "json_invalid":
            raise EnvelopeError(f"body is not valid UTF-8 JSON: {problems[0]['msg']}") from None
        if problems and problems[0]["type"] == "model_type":
            got = type(problems[0]["input"]).__name__
            raise EnvelopeError(f"envelope must be a JSON object, got {got}") from None
        raise EnvelopeError(f"invalid CloudEvents envelope: {describe(error)}") from None


def decode_as(body: bytes, event_class: type[E]) -> tuple[Envelope, E] | None:
    """``body`` as an envelope carrying an ``event_class`` event, parsed and validated in one pass.

    The consumer's fast path, for when the type is known before the body is read (the AMQP
    ``type`` property). Returns None for anything but a valid envelope of exactly that type:
    the caller then decodes strictly (``decode`` + ``model_validate``) to say what is wrong.
    """
    try:
        envelope = _typed_envelope(event_class).model_validate_json(body)
    except ValidationError:
        return None
    event: Any = envelope.data  # an ``event_class`` instance: the typed model validated it
    if envelope.type != event_class.type or not isinstance(event, event_class):
        return None
    return envelope, event


@functools.cache
def _typed_envelope(event_class: type[Event]) -> type[Envelope]:
    """An ``Envelope`` whose ``data`` is ``event_class`` itself (made once per class)."""
    model: type[Envelope] = create_model(
        f"{event_class.__name__}Envelope", __base__=Envelope, data=(event_class, ...)
    )
    return model
