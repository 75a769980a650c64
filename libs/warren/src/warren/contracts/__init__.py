"""The contracts core: how a project defines its events, puts them on the wire, keeps them stable.

A project's own contracts package subclasses ``Event`` (one frozen model per type and version,
naming its ``producer`` and ``subject_field``), gathers them in a ``Registry``, and records their
JSON Schemas; ``check_registry`` then fails a change that would break a consumer. This package
is the bottom of the platform: pydantic and the stdlib only, no broker, no database, and no
project's events.
"""

from warren.contracts.compatibility import breaking_changes, check_registry
from warren.contracts.envelope import CONTENT_TYPE, Envelope, EnvelopeError, decode, encode, wrap
from warren.contracts.event import Event
from warren.contracts.registry import Registry, UnknownEventType
from warren.contracts.schema import json_schema

__all__ = [
    "CONTENT_TYPE",
    "Envelope",
    "EnvelopeError",
    "Event",
    "Registry",
    "UnknownEventType",
    "breaking_changes",
    "check_registry",
    "decode",
    "encode",
    "json_schema",
    "wrap",
]
