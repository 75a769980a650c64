"""``warren check imports``: the house architecture, enforced by import-linter for every service.

Owns turning a project's ``[tool.warren]`` (its services and its contracts package) into
import-linter contracts, so a new service is covered the moment it is listed, never silently
left out. The rules are STYLE's: the platform imports no project code; the contracts import no
service and no I/O framework; services are independent; inside a service ``main`` > ``api`` |
``handlers`` > ``store`` > ``domain``; a domain imports no framework. It checks; it changes nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from warren.cli._app import app
from warren.cli._project import Project, load_project

check = typer.Typer(help="Check the project against the platform's rules.", no_args_is_help=True)
app.add_typer(check, name="check")

_FRAMEWORKS = ["fastapi", "aio_pika", "aiormq", "asyncpg"]
_PLATFORM_LAYERS = [
    "warren.cli | warren.testing",
    "warren.runtime",
    "warren.messaging",
    "warren.db",
    "warren.telemetry",
    "warren.contracts",
]
_SERVICE_LAYERS = ["__main__", "main", "api | handlers", "store", "domain"]
# Everything of the platform but the contracts core, which contracts and domains may use.
_PLATFORM_IO = [
    f"warren.{layer}" for layer in ("telemetry", "db", "messaging", "runtime", "cli", "testing")
]


def import_contracts(project: Project) -> list[dict[str, Any]]:
    """The import-linter contracts for ``project``: derived from its services and contracts."""
    services = list(project.services)
    own = [*services, *([project.contracts] if project.contracts else [])]
    rules: list[dict[str, Any]] = [
        {
            "name": "the platform imports no project code",
            "type": "forbidden",
            "source_modules": ["warren"],
            "forbidden_modules": own,
        },
        {
            "name": "platform layers point down",
            "type": "layers",
            "layers": _PLATFORM_LAYERS,
            "exhaustive": False,
        },
    ]
    if project.contracts:
        rules.append(
            {
                "name": "contracts import no service, no I/O framework, only the contracts core",
                "type": "forbidden",
                "source_modules": [project.contracts],
                "forbidden_modules": [
                    *services,
                    *_FRAMEWORKS,
                    *_PLATFORM_IO,
                ],
                "allow_indirect_imports": True,
            }
        )
    if len(services) > 1:
        rules.append(
            {
                "name": "services are independent of each other",
                "type": "independence",
                "modules": services,
            }
        )
    if services:
        rules += [
            {
                "name": "service layers point down",
                "type": "layers",
                "containers": services,
                "layers": _SERVICE_LAYERS,
            },
            {
                "name": "a domain imports no framework",
                "type": "forbidden",
                "source_modules": [f"{service}.domain" for service in services],
                "forbidden_modules": [*_FRAMEWORKS, *_PLATFORM_IO, "structlog"],
            },
        ]
    return rules


def render(project: Project) -> str:
    """The contracts as an import-linter TOML configuration (``[tool.importlinter]``)."""
    lines = [
        "[tool.importlinter]",
        f"root_packages = {_toml(['warren', *project.services, *_contracts(project)])}",
        "include_external_packages = true",
    ]
    for rule in import_contracts(project):
        lines += ["", "[[tool.importlinter.contracts]]"]
        lines += [f"{key} = {_toml(value)}" for key, value in rule.items()]
    return "\n".join(lines) + "\n"


@check.command("imports")
def imports(
    show: Annotated[bool, typer.Option(help="print the generated configuration and stop")] = False,
) -> None:
    """Check every import against the platform's rules (needs ``warren-platform[lint]``).

    Example: [bold]warren check imports[/bold]
    """
    project = load_project()
    text = render(project)
    if show:
        typer.echo(text, nl=False)
        return
    try:
        from importlinter.cli import lint_imports
    except ImportError:
        typer.echo("import-linter is missing: pip install 'warren-platform[lint]'", err=True)
        raise typer.Exit(2) from None
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "pyproject.toml"
        config.write_text(text, encoding="utf-8")
        raise typer.Exit(lint_imports(config_filename=str(config), no_cache=True, no_logo=True))


def _contracts(project: Project) -> list[str]:
    return [project.contracts] if project.contracts else []


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
