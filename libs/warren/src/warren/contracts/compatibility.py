"""Backward compatibility of event schemas: what a current JSON Schema breaks of a recorded one.

This module owns the rule that decides when a change to a published event needs a new major
version, and the check of every recorded schema against the current code. The rule: every message
valid under the recorded schema must stay valid under the current one (messages already sitting in
queues, dead-letter queues and outboxes stay readable), and no property a consumer may read
disappears. So removed or renamed properties, newly required ones and narrowed types, values or
bounds are breaking; additive optional properties and widened constraints are not. It reads JSON
Schemas only: it never writes a recorded schema (that is ``schema``) nor touches an event.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from warren.contracts.registry import Registry
from warren.contracts.schema import json_schema

_UNION = ("anyOf", "oneOf")
_LOWER_LIMITS = ("minLength", "minItems", "minProperties")
_UPPER_LIMITS = ("maxLength", "maxItems", "maxProperties")
_NUMBER_BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf")
_TEXT_RULES = ("pattern", "format")
_STRUCTURE = ("properties", "required", "additionalProperties", "items", "prefixItems")
# The keywords this module judges; any other validation keyword that changes counts as breaking.
_ANALYSED = frozenset(
    {"$ref", "type", "const", "enum", "uniqueItems", *_UNION, *_NUMBER_BOUNDS, *_STRUCTURE}
    | {*_LOWER_LIMITS, *_UPPER_LIMITS, *_TEXT_RULES}
)
# Keywords that describe and never reject ("discriminator" is OpenAPI's hint; branches validate).
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly"}
    | {"$comment", "$defs", "definitions", "$id", "$schema", "discriminator"}
)

Bound = tuple[float, bool]  # (limit, exclusive)


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Why ``new`` breaks the consumers and messages of the recorded ``old``; empty if nothing.

    Each reason names where (``'lines[].quantity'``, ``<root>``) and what: a property removed or
    renamed, newly required, a type, value or null no longer accepted, a bound tightened, a
    pattern or format changed. ``$ref`` is followed into ``$defs`` on either side, unions are
    compared branch by branch, and keywords this checker does not analyse count as breaking when
    they change, so an unknown change is never waved through.
    """
    return _Comparison(old, new).compare(old, new, "")


def check_registry(directory: str | Path, registry: Registry) -> dict[str, list[str]]:
    """Compare every schema recorded in ``directory`` with the current model of its type.

    Returns the problems by type string; an empty dict means every recorded schema is still
    honoured. A recorded type missing from ``registry`` is breaking (a published type was
    removed); a registered type with no recorded schema is reported as not recorded, so a new
    event is recorded (``make schemas``) before it ships.
    """
    recorded = {path.name.removesuffix(".json"): path for path in Path(directory).glob("*.json")}
    problems: dict[str, list[str]] = {}
    for event_type, path in sorted(recorded.items()):
        if event_type not in registry:
            problems[event_type] = [
                f"published type {event_type!r} is no longer registered; removing a type "
                "breaks its consumers (keep it, or retire it deliberately)"
            ]
            continue
        old = json.loads(path.read_text(encoding="utf-8"))
        reasons = (
            [] if old.get("$id") == event_type else [f"{path.name} records {old.get('$id')!r}"]
        )
        reasons += breaking_changes(old, json_schema(registry.resolve(event_type)))
        if reasons:
            problems[event_type] = reasons
    for event in registry:
        if event.type not in recorded:
            problems[event.type] = [f"not recorded: run `make schemas` to record {event.type}.json"]
    return problems


class _Comparison:
    """One walk over a recorded and a current schema document, following ``$ref`` in each."""

    def __init__(self, old_root: Mapping[str, Any], new_root: Mapping[str, Any]) -> None:
        self._old_root = old_root
        self._new_root = new_root
        self._in_progress: set[tuple[int, int]] = set()  # pairs of document nodes: stops cycles

    def compare(self, old_node: Any, new_node: Any, path: str) -> list[str]:
        """Reasons why ``new_node`` rejects something ``old_node`` accepted, at ``path``."""
        key = (id(old_node), id(new_node))
        if key in self._in_progress:  # a recursive schema came round again: already being judged
            return []
        old, new = _resolve(old_node, self._old_root), _resolve(new_node, self._new_root)
        if new is True or old is False:
            return []
        if new is False:
            return [f"{_where(path)}: accepts nothing any more"]
        self._in_progress.add(key)
        try:
            old_branches = _branches({} if old is True else old, self._old_root)
            new_branches = _branches(new, self._new_root)
            if len(old_branches) == 1 and len(new_branches) == 1:
                return self._compare_plain(old_branches[0], new_branches[0], path)
            return [r for b in old_branches for r in self._compare_branch(b, new_branches, path)]
        finally:
            self._in_progress.discard(key)

    def _compare_branch(
        self, old: Mapping[str, Any], candidates: list[Mapping[str, Any]], path: str
    ) -> list[str]:
        """One branch of a recorded union must be accepted whole by some current branch."""
        old_types = _types(old)
        fitting = [new for new in candidates if _may_accept(_types(new), old_types)]
        if not fitting:
            return [f"{_where(path)}: no longer accepts {_describe(old)}"]
        fitting.sort(key=lambda new: new.get("title") != old.get("title"))  # same model first
        best: list[str] | None = None
        for new in fitting:
            reasons = self._compare_plain(old, new, path)
            if not reasons:
                return []
            if best is None or len(reasons) < len(best):
                best = reasons
        return best or []

    def _compare_plain(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> list[str]:
        """Compare two schemas that are not unions, keyword by keyword, then their children."""
        local = [
            *_narrowed_types(old, new),
            *_narrowed_values(old, new),
            *_tightened_bounds(old, new),
            *_changed_text_rules(old, new),
            *_changed_unanalysed(old, new),
        ]
        reasons = [f"{_where(path)}: {reason}" for reason in local]
        reasons += self._compare_items(old, new, path)
        reasons += self._compare_properties(old, new, path)
        return reasons

    def _compare_items(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> list[str]:
        old_prefix, new_prefix = old.get("prefixItems", []), new.get("prefixItems", [])
        reasons = []
        for index in range(max(len(old_prefix), len(new_prefix))):
            old_item = old_prefix[index] if index < len(old_prefix) else old.get("items", True)
            new_item = new_prefix[index] if index < len(new_prefix) else new.get("items", True)
            reasons += self.compare(old_item, new_item, f"{path}[{index}]")
        if "items" in new:
            reasons += self.compare(old.get("items", True), new["items"], f"{path}[]")
        return reasons

    def _compare_properties(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> list[str]:
        old_properties, new_properties = old.get("properties", {}), new.get("properties", {})
        reasons = []
        for name, old_property in old_properties.items():
            where = _join(path, name)
            if name in new_properties:
                reasons += self.compare(old_property, new_properties[name], where)
            else:
                reasons.append(f"{_where(where)}: removed or renamed")
        old_required = set(old.get("required", ()))
        for name in new.get("required", ()):
            if name not in old_required:
                was = "was optional" if name in old_properties else "new property"
                reasons.append(f"{_where(_join(path, name))}: newly required ({was})")
        old_extra, new_extra = (
            old.get("additionalProperties", True),
            new.get("additionalProperties"),
        )
        if new_extra is False and old_extra is not False:
            reasons.append(f"{_where(path)}: no longer accepts additional properties")
        elif new_extra is not None:
            reasons += self.compare(old_extra, new_extra, _join(path, "*"))
        return reasons


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    """``node`` with its ``$ref`` chain followed inside ``root``; sibling keywords are kept."""
    for _ in range(64):
        if not isinstance(node, Mapping) or "$ref" not in node:
            return node
        target = _pointer(root, node["$ref"])
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        node = {**target, **siblings} if siblings and isinstance(target, Mapping) else target
    raise ValueError(f"$ref chain too long or circular at {node.get('$ref')!r}")


def _pointer(root: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref is supported, got {ref!r}")
    node: Any = root
    for token in filter(None, ref[1:].split("/")):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def _branches(schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The alternatives ``schema`` accepts: union members, or one per type of a type list."""
    union = next((schema[key] for key in _UNION if key in schema), None)
    if union is None:
        types = schema.get("type")
        if isinstance(types, list) and len(types) > 1:
            return [{**schema, "type": one} for one in types]
        return [schema]
    siblings = {key: value for key, value in schema.items() if key not in _UNION}
    branches: list[Mapping[str, Any]] = []
    for member in union:
        resolved = _resolve(member, root)
        if resolved is not False:
            branches += _branches({**siblings, **({} if resolved is True else resolved)}, root)
    return branches


def _types(schema: Mapping[str, Any]) -> frozenset[str] | None:
    """The JSON types ``schema`` admits, from ``type`` or its values; None for any type."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(declared)
    values = _values(schema)
    return None if values is None else frozenset(_json_type(value) for value in values)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    names = {float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), "object")


def _accepts_type(types: frozenset[str], one: str) -> bool:
    return one in types or (one == "integer" and "number" in types)


def _may_accept(new_types: frozenset[str] | None, old_types: frozenset[str] | None) -> bool:
    if new_types is None:
        return True
    return old_types is not None and any(_accepts_type(new_types, t) for t in old_types)


def _values(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _narrowed_types(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[str]:
    new_types, old_types = _types(new), _types(old)
    if new_types is None:
        return
    if old_types is None:
        yield f"type restricted to {_listed(new_types)}"
        return
    for one in sorted(old_types):
        if _accepts_type(new_types, one):
            continue
        yield "no longer accepts null" if one == "null" else f"no longer accepts type {one}"


def _narrowed_values(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[str]:
    new_values, old_values = _values(new), _values(old)
    if new_values is None:
        return
    if old_values is None:
        yield f"now restricted to the values {_json(new_values)}"
        return
    kept = {_json(value) for value in new_values}
    removed = [value for value in old_values if _json(value) not in kept]
    if removed and "const" in old and "const" in new:
        yield f"constant changed from {_json(old['const'])} to {_json(new['const'])}"
    elif removed:
        yield f"no longer accepts {', '.join(_json(value) for value in removed)}"


def _tightened_bounds(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[str]:
    old_lower, new_lower = _lower(old), _lower(new)
    if new_lower is not None and (old_lower is None or _tighter(new_lower, old_lower, 1)):
        yield f"minimum raised from {_bound(old_lower, '>')} to {_bound(new_lower, '>')}"
    old_upper, new_upper = _upper(old), _upper(new)
    if new_upper is not None and (old_upper is None or _tighter(new_upper, old_upper, -1)):
        yield f"maximum lowered from {_bound(old_upper, '<')} to {_bound(new_upper, '<')}"
    for keyword in _LOWER_LIMITS:
        if new.get(keyword, 0) > old.get(keyword, 0):
            yield f"{keyword} raised from {old.get(keyword, 0)} to {new[keyword]}"
    for keyword in _UPPER_LIMITS:
        was, now = old.get(keyword), new.get(keyword)
        if now is not None and (was is None or now < was):
            yield f"{keyword} lowered from {'unbounded' if was is None else was} to {now}"
    was, now = old.get("multipleOf"), new.get("multipleOf")
    if now is not None and (was is None or (was / now) % 1 != 0):
        yield f"multipleOf changed from {was} to {now}"
    if new.get("uniqueItems") and not old.get("uniqueItems"):
        yield "items must now be unique"


def _lower(schema: Mapping[str, Any]) -> Bound | None:
    """The tightest lower bound; integers normalised so ``> 0`` equals ``>= 1``."""
    bounds = [(schema["minimum"], False)] if "minimum" in schema else []
    if "exclusiveMinimum" in schema:
        bounds.append((schema["exclusiveMinimum"], True))
    if _types(schema) == frozenset({"integer"}):
        bounds = [
            (math.floor(v) + 1 if exclusive else math.ceil(v), False) for v, exclusive in bounds
        ]
    return max(bounds, key=lambda bound: (bound[0], bound[1]), default=None)


def _upper(schema: Mapping[str, Any]) -> Bound | None:
    """The tightest upper bound; integers normalised so ``< 10`` equals ``<= 9``."""
    bounds = [(schema["maximum"], False)] if "maximum" in schema else []
    if "exclusiveMaximum" in schema:
        bounds.append((schema["exclusiveMaximum"], True))
    if _types(schema) == frozenset({"integer"}):
        bounds = [
            (math.ceil(v) - 1 if exclusive else math.floor(v), False) for v, exclusive in bounds
        ]
    return min(bounds, key=lambda bound: (bound[0], not bound[1]), default=None)


def _tighter(new: Bound, old: Bound, direction: int) -> bool:
    """Whether ``new`` excludes a value ``old`` admits (direction 1: lower bounds, -1: upper)."""
    if new[0] != old[0]:
        return (new[0] - old[0]) * direction > 0
    return new[1] and not old[1]


def _bound(bound: Bound | None, strict: str) -> str:
    if bound is None:
        return "unbounded"
    return f"{strict} {bound[0]}" if bound[1] else f"{strict}= {bound[0]}"


def _changed_text_rules(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[str]:
    # Whether one regular expression accepts everything another does is undecidable in
    # general, so any new or changed pattern (or format) counts as a narrowing.
    for keyword in _TEXT_RULES:
        if keyword in new and new[keyword] != old.get(keyword):
            was = _json(old[keyword]) if keyword in old else "none"
            yield f"{keyword} changed from {was} to {_json(new[keyword])}"


def _changed_unanalysed(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[str]:
    for keyword in sorted(new):
        if keyword in _ANALYSED or keyword in _ANNOTATIONS or keyword.startswith("x-"):
            continue
        if new[keyword] != old.get(keyword):
            yield f"keyword {keyword!r} changed; not analysed, so treated as breaking"


def _describe(schema: Mapping[str, Any]) -> str:
    values, types = _values(schema), _types(schema)
    if values is not None:
        return f"the values {_json(values)}"
    if types is None:
        return "every type (now only some)"
    return "null" if types == frozenset({"null"}) else f"type {_listed(types)}"


def _listed(types: frozenset[str]) -> str:
    return " | ".join(sorted(types))


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _where(path: str) -> str:
    return repr(path) if path else "<root>"
