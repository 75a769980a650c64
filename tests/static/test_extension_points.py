"""The platform extends OpenTelemetry only through its documented interfaces, and reads no
private attribute it did not set itself.

An upgrade of OpenTelemetry's OTLP exporter once broke Warren's exporter, which subclassed it and
read its ``self._client``. This check parses every module of ``warren`` (no import) and fails on
a class that subclasses anything from ``opentelemetry`` other than the SDK's and API's extension
interfaces, and on ``self._x`` (or ``super()._x``) where the class never assigns ``_x`` itself.
ruff's SLF001 covers ``other._x``; it deliberately ignores ``self``, which is this check's part.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PLATFORM = Path(__file__).resolve().parents[2] / "libs" / "warren" / "src" / "warren"

EXTENSION_INTERFACES = frozenset(
    {
        "opentelemetry.sdk.trace.export.SpanExporter",
        "opentelemetry.sdk.trace.SpanProcessor",
        "opentelemetry.sdk.trace.export.SpanProcessor",  # the same class, re-exported
        "opentelemetry.sdk.trace.sampling.Sampler",
        "opentelemetry.sdk.trace.id_generator.IdGenerator",
        "opentelemetry.sdk.metrics.export.MetricExporter",
        "opentelemetry.sdk.metrics.export.MetricReader",
        "opentelemetry.sdk._logs.export.LogExporter",
        "opentelemetry.propagators.textmap.TextMapPropagator",
        "opentelemetry.propagators.textmap.Getter",
        "opentelemetry.propagators.textmap.Setter",
        "opentelemetry.instrumentation.propagators.ResponsePropagator",
    }
)
"""Classes OpenTelemetry documents as meant to be implemented by others (sdk, api, propagators)."""


def violations(source: str, module: str = "<snippet>") -> list[str]:
    """Every subclassing of a non-interface OpenTelemetry class and every foreign ``self._x``."""
    tree = ast.parse(source)
    imported = _imported_names(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            found += _foreign_bases(node, imported, module)
            found += _foreign_private_reads(node, module)
    return found


def _imported_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted path it was imported as (``SpanExporter`` -> ``opentelemetry…``)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:  # `import a.b` binds `a`
                    top = alias.name.split(".")[0]
                    names[top] = top
    return names


def _dotted(node: ast.expr, imported: dict[str, str]) -> str | None:
    """The imported dotted path a base class expression names, if it names one."""
    if isinstance(node, ast.Name):
        return imported.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _dotted(node.value, imported)
        return f"{owner}.{node.attr}" if owner else None
    if isinstance(node, ast.Subscript):  # Generic[...]-style bases
        return _dotted(node.value, imported)
    return None


def _foreign_bases(cls: ast.ClassDef, imported: dict[str, str], module: str) -> list[str]:
    found = []
    for base in cls.bases:
        path = _dotted(base, imported)
        if path and path.startswith("opentelemetry.") and path not in EXTENSION_INTERFACES:
            found.append(
                f"{module}:{cls.lineno}: {cls.name} subclasses {path}, which is not one of "
                "OpenTelemetry's extension interfaces (implement the interface instead)"
            )
    return found


def _foreign_private_reads(cls: ast.ClassDef, module: str) -> list[str]:
    own = _own_members(cls)
    found = []
    for node in _class_body_nodes(cls):
        if not (isinstance(node, ast.Attribute) and _is_private(node.attr)):
            continue
        if (_is_self(node.value) and node.attr not in own) or _is_super_call(node.value):
            found.append(
                f"{module}:{node.lineno}: {cls.name} reads {ast.unparse(node)}, a private "
                f"attribute {cls.name} does not set itself (another class's internals)"
            )
    return found


def _own_members(cls: ast.ClassDef) -> set[str]:
    """Names the class itself defines: body assignments, methods, ``self._x = …`` anywhere."""
    own: set[str] = set()
    for statement in cls.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            own.add(statement.name)
        elif isinstance(statement, ast.Assign):
            own |= {t.id for t in statement.targets if isinstance(t, ast.Name)}
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            own.add(statement.target.id)
    for node in _class_body_nodes(cls):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        for target in targets:
            for part in ast.walk(target):  # tuple targets: `self._a, self._b = …`
                if isinstance(part, ast.Attribute) and _is_self(part.value):
                    own.add(part.attr)
    return own


def _class_body_nodes(cls: ast.ClassDef) -> Iterator[ast.AST]:
    """Every node of the class's own methods; a nested class is checked on its own."""
    for statement in cls.body:
        if isinstance(statement, ast.ClassDef):
            continue
        yield from ast.walk(statement)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in {"self", "cls"}


def _is_super_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def platform_modules() -> list[Path]:
    return sorted(PLATFORM.rglob("*.py"))


def test_the_platform_modules_are_found() -> None:
    names = {path.name for path in platform_modules()}
    assert {"_exporter.py", "_instrumentation.py", "_broker.py"} <= names


@pytest.mark.parametrize(
    "path", platform_modules(), ids=lambda path: str(path.relative_to(PLATFORM))
)
def test_the_platform_uses_opentelemetry_through_its_extension_interfaces_only(
    path: Path,
) -> None:
    assert violations(path.read_text(), str(path.relative_to(PLATFORM.parent))) == []


def test_a_subclass_of_the_otlp_exporter_reading_its_client_is_caught() -> None:
    source = """
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

class SpanExporter(OTLPSpanExporter):
    def export(self, spans):
        if self._shutdown:
            return None
        return self._client.export(b"")
"""
    found = violations(source)

    assert len(found) == 3
    assert "subclasses opentelemetry.exporter.otlp.proto.http.trace_exporter" in found[0]
    assert "self._shutdown" in found[1]
    assert "self._client" in found[2]


@pytest.mark.parametrize(
    "base",
    [
        "import opentelemetry.exporter.otlp.proto.http.trace_exporter as otlp\n"
        "class X(otlp.OTLPSpanExporter): pass",
        "from opentelemetry.sdk import trace\nclass X(trace.TracerProvider): pass",
        "from opentelemetry.sdk.trace import BatchSpanProcessor as B\nclass X(B): pass",
    ],
    ids=["module-alias", "attribute", "renamed"],
)
def test_a_concrete_opentelemetry_class_is_caught_however_it_is_imported(base: str) -> None:
    assert len(violations(base)) == 1


def test_reading_a_base_class_private_through_super_is_caught() -> None:
    source = """
import logging

class Quiet(logging.Handler):
    def emit(self, record):
        return super()._name
"""
    assert len(violations(source)) == 1


def test_an_interface_with_its_own_private_state_passes() -> None:
    source = """
import threading
from dataclasses import dataclass
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace import sampling

class Exporter(SpanExporter):
    _limit = 3

    def __init__(self):
        self._stopped = threading.Event()
        self._sent, self._failed = 0, 0

    def export(self, spans):
        self._sent += len(spans)
        return self._result() if not self._stopped.is_set() else self._limit

    def _result(self):
        return SpanExportResult.SUCCESS

class Half(sampling.Sampler):
    pass

@dataclass
class Holder:
    _items: list

    def first(self):
        return self._items[0]
"""
    assert violations(source) == []
