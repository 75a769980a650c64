"""The base of every event: a frozen pydantic model with an explicit, versioned type string.

This module owns what all events share (immutability, the ``type`` and ``producer`` class
attributes, the subject) and nothing about how events travel: see ``envelope`` for the wire.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.v[1-9][0-9]*$")


class Event(BaseModel):
    """A fact that happened, published by one service and consumed by any.

    Subclasses set ``type`` explicitly (``"order.placed.v1"``: aggregate, past tense, major
    version) and never derive it from the class name, so a rename cannot change the wire.
    ``producer`` names the service that publishes it; ``subject_field`` names the field that
    identifies the aggregate (it becomes the CloudEvents ``subject`` and the AMQP
    ``correlation_id``). Unknown fields are ignored on input, so an additive optional field is
    not a breaking change for older consumers.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=False)

    type: ClassVar[str]
    producer: ClassVar[str]
    subject_field: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("type")
        if event_type is None:
            return
        if not TYPE_PATTERN.match(event_type):
            raise ValueError(
                f"{cls.__name__}.type {event_type!r} must look like '<aggregate>.<happened>.v<N>'"
            )
        for required in ("producer", "subject_field"):
            if not isinstance(getattr(cls, required, None), str):
                raise TypeError(f"{cls.__name__} ({event_type}) must declare {required}")

    @property
    def subject(self) -> str:
        """The id of the aggregate this event is about (the order id in the saga)."""
        return str(getattr(self, self.subject_field))

    @classmethod
    def version(cls) -> int:
        """The major version carried in ``type`` (``order.placed.v2`` -> 2)."""
        return int(cls.type.rsplit(".v", 1)[1])
