"""A registry maps type strings to event classes and back, one class per type.

It owns lookup and the check that two classes never claim the same type. Which events the suite
has is ``catalogue``'s business, not this module's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from warren.contracts.event import Event


class UnknownEventType(LookupError):
    """No event class is registered for this type string."""


class Registry:
    """Type string <-> event class, built once from a list of classes."""

    def __init__(self, events: Iterable[type[Event]] = ()) -> None:
        self._by_type: dict[str, type[Event]] = {}
        for event in events:
            self.register(event)

    def register(self, event: type[Event]) -> type[Event]:
        """Add ``event``; refuse a second class for a type already taken."""
        taken = self._by_type.get(event.type)
        if taken is not None and taken is not event:
            raise ValueError(f"{event.type!r} is already {taken.__qualname__}")
        self._by_type[event.type] = event
        return event

    def resolve(self, event_type: str) -> type[Event]:
        """The class for ``event_type``, or :class:`UnknownEventType`."""
        try:
            return self._by_type[event_type]
        except KeyError:
            raise UnknownEventType(f"unknown event type {event_type!r}") from None

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._by_type

    def __iter__(self) -> Iterator[type[Event]]:
        return iter(sorted(self._by_type.values(), key=lambda e: e.type))

    def __len__(self) -> int:
        return len(self._by_type)
