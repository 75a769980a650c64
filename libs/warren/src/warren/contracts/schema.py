"""JSON Schema export of a catalogue's events: one recorded schema document per event type.

This module owns how an event class becomes a JSON Schema document (pydantic's validation schema
of the event's ``data``, identified by its type string) and how the documents are written to a
folder as ``<type>.json``. It judges nothing — whether a change breaks a recorded schema is
``compatibility``'s business — and it never deletes a recorded schema. Stdlib and pydantic only.
A project records its catalogue with ``warren schema --record`` (the folder is ``[tool.warren]``'s
``schemas``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from warren.contracts.event import Event
from warren.contracts.registry import Registry

DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect pydantic v2 generates, stated in every document."""


def json_schema(event: type[Event]) -> dict[str, Any]:
    """The JSON Schema of ``event``'s ``data``: what a consumer of this type accepts.

    pydantic's validation-mode schema, with ``$id`` and ``title`` set to the type string
    (``order.placed.v1``, never the class name) and ``x-producer`` naming the publishing service.
    """
    schema = event.model_json_schema(mode="validation")
    return {
        **schema,
        "$schema": DIALECT,
        "$id": event.type,
        "title": event.type,
        "x-producer": event.producer,
    }


def render(schema: dict[str, Any]) -> str:
    """The recorded text of ``schema``: sorted keys, two-space indent, a trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(directory: str | Path, registry: Registry) -> list[Path]:
    """Record the schema of every event in ``registry`` as ``<directory>/<type>.json``.

    Returns the files whose content changed. Files of types no longer registered are left in
    place on purpose: a published type that disappears is a breaking change the compatibility
    check must still see.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    changed = []
    for event in registry:
        path = target / f"{event.type}.json"
        text = render(json_schema(event))
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed
