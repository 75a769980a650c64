"""Recorded schemas stay honoured: the guard over ``contracts/schemas/`` and the checker's rules.

The first tests are the guard the design asks for: every schema recorded in the repository is
still accepted by the current code. The rest prove the checker can fail: deliberately broken
variants of a model must be reported, compatible ones must not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar, Literal
from uuid import UUID

import pytest
from pydantic import BaseModel, Field, create_model

from shop_contracts.catalogue import REGISTRY
from warren.contracts.compatibility import breaking_changes, check_registry
from warren.contracts.event import Event
from warren.contracts.registry import Registry
from warren.contracts.schema import json_schema, render, write

RECORDED = Path(__file__).parents[3] / "contracts" / "schemas"

# --- the guard ----------------------------------------------------------------------------------


def test_the_recorded_schemas_are_honoured_by_the_current_events() -> None:
    problems = check_registry(RECORDED, REGISTRY)

    report = "\n".join(
        f"{event_type}: {reason}" for event_type, reasons in problems.items() for reason in reasons
    )
    assert problems == {}, (
        f"a breaking change needs a new version (x.y.v2) beside the old:\n{report}"
    )


def test_every_registered_event_is_recorded_and_up_to_date() -> None:
    stale = [
        event.type
        for event in REGISTRY
        if (RECORDED / f"{event.type}.json").read_text(encoding="utf-8")
        != render(json_schema(event))
    ]

    assert stale == [], "run `make schemas` and commit contracts/schemas/ with the change"


# --- the export ---------------------------------------------------------------------------------


def test_a_schema_is_identified_by_its_type_string_and_names_its_producer() -> None:
    schema = json_schema(REGISTRY.resolve("order.placed.v1"))

    assert schema["$id"] == schema["title"] == "order.placed.v1"
    assert schema["x-producer"] == "orders"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) >= {"order_id", "customer_id", "lines", "total", "placed_at"}


def test_write_records_one_sorted_file_per_type(tmp_path: Path) -> None:
    written = write(tmp_path, REGISTRY)

    assert sorted(path.name for path in written) == sorted(f"{e.type}.json" for e in REGISTRY)
    text = (tmp_path / "order.placed.v1.json").read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert write(tmp_path, REGISTRY) == [], "writing again changes nothing"


def test_write_keeps_the_schema_of_a_type_no_longer_registered(tmp_path: Path) -> None:
    (tmp_path / "order.shipped.v1.json").write_text("{}\n", encoding="utf-8")

    write(tmp_path, REGISTRY)

    assert (tmp_path / "order.shipped.v1.json").exists()


def test_the_command_line_records_a_projects_schemas(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.warren]\ncatalogue = "shop_contracts.catalogue:REGISTRY"\nschemas = "recorded"\n'
    )

    subprocess.run(
        [Path(sys.executable).with_name("warren"), "schema", "--record"],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )

    recorded = tmp_path / "recorded"
    assert {path.name for path in recorded.iterdir()} == {f"{e.type}.json" for e in REGISTRY}


# --- check_registry -----------------------------------------------------------------------------


def test_a_type_without_a_recorded_schema_is_not_recorded(tmp_path: Path) -> None:
    write(tmp_path, REGISTRY)
    (tmp_path / "stock.released.v1.json").unlink()

    assert check_registry(tmp_path, REGISTRY) == {
        "stock.released.v1": ["not recorded: run `make schemas` to record stock.released.v1.json"]
    }


def test_a_published_type_removed_from_the_registry_is_breaking(tmp_path: Path) -> None:
    write(tmp_path, REGISTRY)
    (tmp_path / "order.shipped.v1.json").write_text('{"$id": "order.shipped.v1"}\n')

    problems = check_registry(tmp_path, REGISTRY)

    assert list(problems) == ["order.shipped.v1"]
    assert "no longer registered" in problems["order.shipped.v1"][0]


def test_a_field_dropped_from_the_code_is_caught_against_the_record(tmp_path: Path) -> None:
    write(tmp_path, REGISTRY)
    path = tmp_path / "order.cancelled.v1.json"
    recorded = json.loads(path.read_text(encoding="utf-8"))
    recorded["properties"]["coupon"] = {"type": "string"}  # as if the code had dropped `coupon`
    path.write_text(render(recorded), encoding="utf-8")

    assert check_registry(tmp_path, REGISTRY) == {
        "order.cancelled.v1": ["'coupon': removed or renamed"]
    }


def test_check_registry_reads_the_registry_it_is_given(tmp_path: Path) -> None:
    class Shipped(Event):
        type: ClassVar[str] = "order.shipped.v1"
        producer: ClassVar[str] = "orders"
        subject_field: ClassVar[str] = "order_id"
        order_id: UUID

    registry = Registry([Shipped])
    write(tmp_path, registry)

    assert check_registry(tmp_path, registry) == {}


# --- breaking_changes: deliberately broken variants ----------------------------------------------


class Line(BaseModel):
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Z]+$")
    quantity: int = Field(gt=0, le=100)


class LineWithoutSku(BaseModel):
    quantity: int = Field(gt=0, le=100)


class LineWithFewerUnits(BaseModel):
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Z]+$")
    quantity: int = Field(gt=0, le=10)


RECORDED_FIELDS: dict[str, Any] = {
    "order_id": (UUID, ...),
    "reference": (int | str, ...),
    "reason": (Literal["out_of_stock", "payment_declined"], ...),
    "channel": (Literal["web"], ...),
    "amount": (int, Field(ge=0, le=1000)),
    "ratio": (float, Field(gt=0.0, lt=1.0)),
    "note": (str | None, None),
    "code": (str, Field(min_length=2, max_length=8, pattern=r"^[A-Z]+$")),
    "lines": (list[Line], Field(min_length=1, max_length=10)),
}


def schema_of(**changes: Any) -> dict[str, Any]:
    """The JSON Schema of the recorded fields with ``changes`` applied (``None`` removes one)."""
    fields = {name: spec for name, spec in {**RECORDED_FIELDS, **changes}.items() if spec}
    model: type[BaseModel] = create_model("Probe", **fields)
    return model.model_json_schema()


def test_an_unchanged_schema_breaks_nothing() -> None:
    assert breaking_changes(schema_of(), schema_of()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"note": None}, "'note': removed or renamed", id="removed"),
        pytest.param(
            {"code": None, "product_code": RECORDED_FIELDS["code"]},
            "'code': removed or renamed",
            id="renamed",
        ),
        pytest.param(
            {"priority": (int, ...)}, "'priority': newly required (new property)", id="required"
        ),
        pytest.param(
            {"note": (str | None, ...)}, "'note': newly required (was optional)", id="now-required"
        ),
        pytest.param(
            {"reference": (int, ...)}, "'reference': no longer accepts type string", id="int|str"
        ),
        pytest.param(
            {"reason": (Literal["out_of_stock"], ...)},
            "'reason': no longer accepts \"payment_declined\"",
            id="literal-value-removed",
        ),
        pytest.param(
            {"channel": (Literal["shop"], ...)},
            '\'channel\': constant changed from "web" to "shop"',
            id="constant-changed",
        ),
        pytest.param(
            {"note": (str, "")}, "'note': no longer accepts null", id="optional-to-non-null"
        ),
        pytest.param(
            {"amount": (int, Field(ge=1, le=1000))},
            "'amount': minimum raised from >= 0 to >= 1",
            id="minimum-raised",
        ),
        pytest.param(
            {"amount": (int, Field(gt=0, le=1000))},
            "'amount': minimum raised from >= 0 to >= 1",
            id="exclusive-minimum-raised",
        ),
        pytest.param(
            {"amount": (int, Field(ge=0, le=999))},
            "'amount': maximum lowered from <= 1000 to <= 999",
            id="maximum-lowered",
        ),
        pytest.param(
            {"ratio": (float, Field(gt=0.0, le=0.5))},
            "'ratio': maximum lowered from < 1.0 to <= 0.5",
            id="float-maximum-lowered",
        ),
        pytest.param(
            {"ratio": (float, Field(gt=0.1, lt=1.0))},
            "'ratio': minimum raised from > 0.0 to > 0.1",
            id="float-minimum-raised",
        ),
        pytest.param(
            {"code": (str, Field(min_length=3, max_length=8, pattern=r"^[A-Z]+$"))},
            "'code': minLength raised from 2 to 3",
            id="min-length-raised",
        ),
        pytest.param(
            {"code": (str, Field(min_length=2, max_length=4, pattern=r"^[A-Z]+$"))},
            "'code': maxLength lowered from 8 to 4",
            id="max-length-lowered",
        ),
        pytest.param(
            {"code": (str, Field(min_length=2, max_length=8, pattern=r"^[A-Z]{2,}$"))},
            '\'code\': pattern changed from "^[A-Z]+$" to "^[A-Z]{2,}$"',
            id="pattern-changed",
        ),
        pytest.param(
            {"lines": (list[Line], Field(min_length=2, max_length=10))},
            "'lines': minItems raised from 1 to 2",
            id="min-items-raised",
        ),
        pytest.param(
            {"lines": (list[Line], Field(min_length=1, max_length=5))},
            "'lines': maxItems lowered from 10 to 5",
            id="max-items-lowered",
        ),
        pytest.param(
            {"lines": (list[LineWithoutSku], Field(min_length=1, max_length=10))},
            "'lines[].sku': removed or renamed",
            id="nested-removed-through-defs",
        ),
        pytest.param(
            {"lines": (list[LineWithFewerUnits], Field(min_length=1, max_length=10))},
            "'lines[].quantity': maximum lowered from <= 100 to <= 10",
            id="nested-bound-through-defs",
        ),
        pytest.param(
            {"ratio": (int, Field(gt=0, lt=1))},
            "'ratio': no longer accepts type number",
            id="number-to-integer",
        ),
        pytest.param(
            {"lines": (set[str], Field(min_length=1, max_length=10))},
            "'lines': items must now be unique",
            id="unique-items",
        ),
    ],
)
def test_a_breaking_variant_is_reported(changes: dict[str, Any], expected: str) -> None:
    reasons = breaking_changes(schema_of(), schema_of(**changes))

    assert expected in reasons, reasons


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"coupon": (str | None, None)}, id="additive-optional-field"),
        pytest.param({"coupon": (str, "")}, id="additive-field-with-default"),
        pytest.param({"reference": (int | str | None, ...)}, id="union-widened"),
        pytest.param({"reference": (int | str, 0)}, id="field-gains-a-default"),
        pytest.param(
            {"reason": (Literal["out_of_stock", "payment_declined", "fraud"], ...)},
            id="literal-value-added",
        ),
        pytest.param({"channel": (Literal["web", "shop"], ...)}, id="constant-to-enum"),
        pytest.param({"channel": (str, ...)}, id="constant-to-any-string"),
        pytest.param({"amount": (int, Field(ge=-5, le=2000))}, id="bounds-widened"),
        pytest.param({"amount": (int, Field(gt=-1, lt=1001))}, id="same-integer-bounds"),
        pytest.param({"amount": (float, Field(ge=0, le=1000))}, id="integer-to-number"),
        pytest.param({"amount": (int, Field(ge=0))}, id="maximum-removed"),
        pytest.param({"ratio": (float, Field(ge=0.0, le=1.0))}, id="exclusive-to-inclusive"),
        pytest.param({"order_id": (str, ...)}, id="format-removed"),
        pytest.param({"code": (str | None, None)}, id="non-null-to-optional-nullable"),
        pytest.param({"code": (str, Field(min_length=1, max_length=9))}, id="text-widened"),
        pytest.param({"lines": (list[Line], Field(min_length=0))}, id="items-widened"),
        pytest.param(
            {"note": (str | None, Field(default=None, description="free text"))},
            id="description-added",
        ),
    ],
)
def test_a_compatible_variant_breaks_nothing(changes: dict[str, Any]) -> None:
    assert breaking_changes(schema_of(), schema_of(**changes)) == []


# --- breaking_changes: JSON Schema shapes pydantic rarely writes --------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            {"type": ["integer", "string"]},
            {"type": "integer"},
            "<root>: no longer accepts type string",
            id="type-list-narrowed",
        ),
        pytest.param(
            {"type": "integer"},
            {"type": "number"},
            None,
            id="integer-widened-to-number",
        ),
        pytest.param({}, {"type": "string"}, "<root>: type restricted to string", id="any-to-one"),
        pytest.param(
            {"type": "string"},
            {"type": "string", "enum": ["a"]},
            '<root>: now restricted to the values ["a"]',
            id="enum-added",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "integer"}}},
            {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "additionalProperties": False,
            },
            "<root>: no longer accepts additional properties",
            id="extra-forbidden",
        ),
        pytest.param(
            {"type": "object", "additionalProperties": {"type": ["integer", "string"]}},
            {"type": "object", "additionalProperties": {"type": "integer"}},
            "'*': no longer accepts type string",
            id="map-values-narrowed",
        ),
        pytest.param(
            {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
            {"type": "array", "prefixItems": [{"type": "integer"}, {"const": "x"}]},
            "'[1]': now restricted to the values [\"x\"]",
            id="tuple-member-narrowed",
        ),
        pytest.param(
            {"type": "integer"},
            {"type": "integer", "multipleOf": 5},
            "<root>: multipleOf changed from None to 5",
            id="multiple-of-added",
        ),
        pytest.param(
            {"type": "string"},
            {"type": "string", "not": {"const": "x"}},
            "<root>: keyword 'not' changed; not analysed, so treated as breaking",
            id="unanalysed-keyword",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": True}},
            {"type": "object", "properties": {"a": False}},
            "'a': accepts nothing any more",
            id="false-schema",
        ),
        pytest.param(
            {
                "$defs": {"A": {"type": "integer", "minimum": 0}},
                "properties": {"a": {"$ref": "#/$defs/A", "description": "kept"}},
            },
            {
                "$defs": {"B": {"type": "integer", "minimum": 3}},
                "properties": {"a": {"$ref": "#/$defs/B", "description": "kept"}},
            },
            "'a': minimum raised from >= 0 to >= 3",
            id="ref-with-siblings-into-renamed-def",
        ),
    ],
)
def test_schema_shapes(old: dict[str, Any], new: dict[str, Any], expected: str | None) -> None:
    reasons = breaking_changes(old, new)

    assert reasons == ([] if expected is None else [expected])


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    bark: str


class Node(BaseModel):
    name: str
    children: list[Node] = []


class ShortNode(BaseModel):
    name: str = Field(max_length=3)
    children: list[ShortNode] = []


class Pets(BaseModel):
    pet: Cat | Dog


class Cats(BaseModel):
    pet: Cat


def test_a_model_dropped_from_a_union_is_breaking() -> None:
    reasons = breaking_changes(Pets.model_json_schema(), Cats.model_json_schema())

    assert reasons, "a Dog is no longer accepted"
    assert breaking_changes(Cats.model_json_schema(), Pets.model_json_schema()) == []


def test_a_recursive_schema_is_compared_without_looping() -> None:
    assert breaking_changes(Node.model_json_schema(), Node.model_json_schema()) == []

    reasons = breaking_changes(Node.model_json_schema(), ShortNode.model_json_schema())

    assert "'name': maxLength lowered from unbounded to 3" in reasons
    assert "'children[].name': maxLength lowered from unbounded to 3" in reasons


def test_only_local_references_are_followed() -> None:
    with pytest.raises(ValueError, match="only local"):
        breaking_changes({"$ref": "https://example.com/a.json"}, {"type": "string"})
