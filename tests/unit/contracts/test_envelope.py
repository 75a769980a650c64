"""The CloudEvents envelope: every event survives wrap/encode/decode; bad bodies are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren.contracts.envelope import (
    CONTENT_TYPE,
    DATA_CONTENT_TYPE,
    Envelope,
    EnvelopeError,
    decode,
    encode,
    wrap,
)
from warren.contracts.event import Event

EVENTS = list(REGISTRY)
SENT_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def valid_body(**changes: Any) -> dict[str, Any]:
    """A valid envelope as a JSON object, with ``changes`` applied (``None`` removes a key)."""
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": "5b0c1f4e-0000-4000-8000-000000000001",
        "source": "/warren/orders",
        "type": "order.placed.v1",
        "time": "2026-01-02T03:04:05Z",
        "datacontenttype": "application/json",
        "subject": "0b8f9a4e-3c52-4d7e-9a61-2f1c7d5e8b90",
        "data": {"order_id": "0b8f9a4e-3c52-4d7e-9a61-2f1c7d5e8b90"},
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def as_bytes(body: object) -> bytes:
    return json.dumps(body).encode()


@pytest.mark.parametrize("event_class", EVENTS, ids=lambda event: event.type)
def test_every_event_survives_the_round_trip(event_class: type[Event]) -> None:
    event = example(event_class)
    envelope = wrap(event, source="/warren/test", event_id="event-1", time=SENT_AT)

    decoded = decode(encode(envelope))

    assert decoded == envelope
    assert REGISTRY.resolve(decoded.type).model_validate(decoded.data) == event


@pytest.mark.parametrize("event_class", EVENTS, ids=lambda event: event.type)
def test_the_envelope_carries_the_cloudevents_attributes(event_class: type[Event]) -> None:
    event = example(event_class)

    body = json.loads(encode(wrap(event, source="/warren/test", event_id="e-1", time=SENT_AT)))

    assert body == {
        "specversion": "1.0",
        "id": "e-1",
        "source": "/warren/test",
        "type": event_class.type,
        "time": "2026-01-02T03:04:05Z",
        "datacontenttype": DATA_CONTENT_TYPE,
        "subject": event.subject,
        "data": event.model_dump(mode="json"),
    }


def test_wrap_gives_a_fresh_id_and_an_aware_time_by_default() -> None:
    event = example(EVENTS[0])

    first, second = wrap(event, source="/warren/test"), wrap(event, source="/warren/test")

    assert first.id != second.id
    assert first.time.utcoffset() is not None


def test_the_structured_mode_content_type_is_cloudevents_json() -> None:
    assert CONTENT_TYPE == "application/cloudevents+json"


def test_extension_attributes_are_kept() -> None:
    decoded = decode(as_bytes(valid_body(partitionkey="order-1")))

    assert decoded.model_extra == {"partitionkey": "order-1"}
    assert json.loads(encode(decoded))["partitionkey"] == "order-1"


def test_a_valid_body_decodes() -> None:
    assert isinstance(decode(as_bytes(valid_body())), Envelope)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(b"not json at all", "not valid UTF-8 JSON", id="not-json"),
        pytest.param(b"", "not valid UTF-8 JSON", id="empty"),
        pytest.param(b'{"id": "\xff\xfe"}', "not valid UTF-8", id="invalid-utf8"),
        pytest.param(b"[]", "must be a JSON object, got list", id="array"),
        pytest.param(b'"text"', "must be a JSON object, got str", id="string"),
    ],
)
def test_decode_refuses_a_body_that_is_not_a_json_object(body: bytes, problem: str) -> None:
    with pytest.raises(EnvelopeError, match=problem):
        decode(body)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        pytest.param({"specversion": None}, "specversion: Field required", id="no-specversion"),
        pytest.param({"specversion": "0.3"}, "specversion: Input should be '1.0'", id="0.3"),
        pytest.param({"id": None}, "id: Field required", id="no-id"),
        pytest.param({"id": ""}, "id: String should have at least 1 character", id="empty-id"),
        pytest.param({"type": None}, "type: Field required", id="no-type"),
        pytest.param({"source": None}, "source: Field required", id="no-source"),
        pytest.param({"time": None}, "time: Field required", id="no-time"),
        pytest.param({"time": "2026-01-02T03:04:05"}, "time: .*timezone", id="naive-time"),
        pytest.param({"time": "yesterday"}, "time: Input should be a valid datetime", id="bad"),
        pytest.param({"data": None}, "data: Field required", id="no-data"),
        pytest.param(
            {"data": [1]}, "data: Input should be (a valid dictionary|an object)", id="data-list"
        ),
        pytest.param(
            {"datacontenttype": "text/xml"}, "datacontenttype: Input should be", id="xml-data"
        ),
    ],
)
def test_decode_names_what_is_wrong_with_the_envelope(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(EnvelopeError, match="invalid CloudEvents envelope") as refused:
        decode(as_bytes(valid_body(**changes)))

    assert refused.match(problem)


def test_serialize_writes_exactly_what_wrap_then_encode_writes() -> None:
    from datetime import UTC, datetime

    from shop_contracts.catalogue import REGISTRY
    from shop_contracts.examples import example
    from warren.contracts.envelope import encode, serialize, wrap

    at = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    for event_class in REGISTRY:
        event = example(event_class)
        slow = encode(wrap(event, source="/warren/x", event_id="id-1", time=at))
        assert serialize(event, source="/warren/x", event_id="id-1", time=at) == slow


@pytest.mark.parametrize("event_class", EVENTS, ids=lambda event: event.type)
def test_decode_as_gives_what_the_strict_path_gives(event_class: type[Event]) -> None:
    from warren.contracts.envelope import decode_as

    event = example(event_class)
    body = encode(wrap(event, source="/warren/test", event_id="event-1", time=SENT_AT))

    decoded = decode_as(body, event_class)

    assert decoded is not None
    envelope, typed = decoded
    strict = decode(body)
    assert typed == event == event_class.model_validate(strict.data)
    assert (envelope.id, envelope.type, envelope.source, envelope.time, envelope.subject) == (
        strict.id,
        strict.type,
        strict.source,
        strict.time,
        strict.subject,
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(as_bytes(valid_body(id="")), id="bad-envelope"),
        pytest.param(as_bytes(valid_body(data={"order_id": "not-a-uuid"})), id="bad-data"),
        pytest.param(as_bytes(valid_body(type="stock.reserved.v1")), id="other-type"),
    ],
)
def test_decode_as_declines_anything_but_a_valid_envelope_of_its_type(body: bytes) -> None:
    """None sends the consumer down the strict path, which says what is wrong."""
    from warren.contracts.envelope import decode_as

    placed = REGISTRY.resolve("order.placed.v1")
    assert decode_as(body, placed) is None
