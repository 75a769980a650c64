"""Which suite the CLI works on: ``[tool.warren]`` in the nearest pyproject.toml, or env vars.

Owns loading the service modules and the event catalogue by name (``WARREN_SERVICES``,
``WARREN_CATALOGUE`` override the file). The platform never imports a suite's modules statically;
this is the one place it loads them, at run time, because the user asked for them.
"""

from __future__ import annotations

import importlib
import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from warren.contracts.registry import Registry
from warren.runtime import Service


@dataclass(frozen=True)
class Project:
    """The suite's service modules (consumers first) and its catalogue (``module:attribute``)."""

    services: tuple[str, ...]
    catalogue: str
    contracts: str = ""
    schemas: Path | None = None
    root: Path | None = None

    @cached_property
    def registry(self) -> Registry:
        """The event catalogue."""
        if not self.catalogue:
            raise ProjectError(
                "no event catalogue: run inside a project whose pyproject.toml has [tool.warren] "
                "catalogue = 'package.module:REGISTRY' (or set WARREN_CATALOGUE)"
            )
        module, _, attribute = self.catalogue.partition(":")
        registry = getattr(importlib.import_module(module), attribute or "REGISTRY")
        if not isinstance(registry, Registry):
            raise TypeError(f"{self.catalogue} is not a warren.contracts.registry.Registry")
        return registry

    def build(self) -> list[Service[Any]]:
        """Every service, built from its ``main.build()`` with the current environment."""
        return [importlib.import_module(f"{name}.main").build() for name in self.services]


class ProjectError(RuntimeError):
    """The CLI was asked for something only a project (``[tool.warren]``) can tell."""


def load_project(start: Path | None = None) -> Project:
    """The project of the nearest pyproject.toml with ``[tool.warren]``, env taking precedence.

    The nearest is searched from ``start`` (the working directory) upwards, or is the file named
    by ``WARREN_PROJECT``; ``WARREN_SERVICES``, ``WARREN_CATALOGUE`` and ``WARREN_CONTRACTS``
    override its entries.
    """
    config: dict[str, Any] = {}
    root = None
    explicit = os.environ.get("WARREN_PROJECT")  # a pyproject.toml, e.g. in the tools image
    folders = [Path(explicit).parent] if explicit else [start or Path.cwd()]
    for folder in [*folders, *folders[0].parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            config = tomllib.loads(candidate.read_text()).get("tool", {}).get("warren", {})
            if config:
                root = folder
                break
    services = os.environ.get("WARREN_SERVICES")
    schemas = config.get("schemas")
    return Project(
        services=tuple(services.split(",")) if services else tuple(config.get("services", ())),
        catalogue=os.environ.get("WARREN_CATALOGUE") or config.get("catalogue", ""),
        contracts=os.environ.get("WARREN_CONTRACTS") or config.get("contracts", ""),
        schemas=root / schemas if root and schemas else None,
        root=root,
    )
