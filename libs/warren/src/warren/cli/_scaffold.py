"""``warren new service`` and ``warren new event``: a new member or event, passing lint and tests.

Owns the scaffolds. A service is rendered from the templates beside this module (the six files,
a migration, a unit and an integration test) and appended to ``[tool.warren] services``; its
deployment entries (compose, Kubernetes, Prometheus, PostgreSQL init, ``.env.example``) are
cloned from a sibling service's (``--like``) with names and port substituted, and the generated
topology files are regenerated, so the static consistency checks hold. An event is a contract
class in the project's contracts package, registered in its catalogue, its schema recorded.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from string import Template
from typing import Annotated

import typer

from warren.cli._app import app
from warren.cli._project import Project, ProjectError, load_project

new = typer.Typer(help="Scaffold a service or an event that passes lint and tests.")
app.add_typer(new, name="new")

TEMPLATES = Path(__file__).with_name("templates")
Swap = Callable[[str], str]
NAME = re.compile(r"^[a-z][a-z0-9_]{1,19}$")  # short enough for every generated line


@new.command("service")
def service(
    name: Annotated[str, typer.Argument(help="the service's name and package, e.g. shipping")],
    port: Annotated[int, typer.Option(help="HTTP port (default: the highest in use + 1)")] = 0,
    like: Annotated[str, typer.Option(help="the service whose deployment entries are cloned")] = "",
) -> None:
    """Scaffold service NAME: its member, tests, [tool.warren] entry and deployment entries.

    Example: [bold]warren new service shipping[/bold]
    """
    project = load_project()
    root = _root(project)
    if not NAME.match(name) or name in project.services:
        raise ProjectError(f"{name!r}: a new service needs a new lower-case identifier")
    sibling = like or project.services[0]
    ports = _ports(project)
    values = {
        "name": name,
        "Name": name.replace("_", " ").capitalize(),
        "port": str(port or max(ports.values()) + 1),
        "contracts_dist": _distribution_of(root / "contracts"),
    }
    written = _render(TEMPLATES / "service", root, name, values)
    _append_service(root / "pyproject.toml", name)
    cloned = clone_deployment(root, sibling, name, ports[sibling], int(values["port"]))
    for path in [*written, *cloned]:
        typer.echo(f"wrote {path.relative_to(root)}")
    typer.echo(
        f"next: uv lock && make install, then `warren topology export` and `warren topology k8s`"
        f" (see docs/guides/adding-a-service.md); {name} listens on {values['port']}"
    )


def _render(folder: Path, root: Path, name: str, values: dict[str, str]) -> list[Path]:
    targets = {
        folder / "pyproject.toml.tmpl": root / "services" / name / "pyproject.toml",
        folder / "tests" / "test_domain.py.tmpl": root / "tests" / "unit" / name / "test_domain.py",
        folder / "tests" / "test_service.py.tmpl": root
        / "tests"
        / "integration"
        / name
        / "test_service.py",
    }
    package = root / "services" / name / "src" / name
    for template in sorted((folder / "src").rglob("*.tmpl")):
        relative = template.relative_to(folder / "src").as_posix().removesuffix(".tmpl")
        targets[template] = package / relative.replace("0001.sql", f"0001_{name}.sql")
    written = []
    for source, target in targets.items():
        if target.exists():
            raise ProjectError(f"{target} exists already: nothing was written over")
        text = Template(source.read_text(encoding="utf-8")).substitute(values)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def clone_deployment(root: Path, like: str, name: str, like_port: int, port: int) -> list[Path]:
    """Copy ``like``'s entries in the deployment files for ``name`` (missing files are skipped)."""

    def swap(text: str) -> str:
        text = re.sub(rf"(?<![a-z0-9]){like}(?![a-z0-9])", name, text)
        text = re.sub(rf"(?<![A-Z0-9]){like.upper()}(?![A-Z0-9])", name.upper(), text)
        return re.sub(rf"(?<![0-9]){like_port}(?![0-9])", str(port), text)

    changed: list[Path] = []
    compose = root / "docker-compose.yml"
    if compose.exists():
        text = _clone_block(compose.read_text(), re.compile(rf"^  {like}:$", re.M), swap)
        text = _clone_lines(text, like.upper(), swap, keyed=True)
        changed.append(_write(compose, text))
    env = root / ".env.example"
    if env.exists():
        changed.append(_write(env, _clone_lines(env.read_text(), like.upper(), swap, keyed=True)))
    kustomization = root / "k8s" / "base" / "kustomization.yaml"
    if kustomization.exists():
        text = _clone_lines(kustomization.read_text(), f"- {like}.yaml", swap)
        changed.append(_write(kustomization, text))
    for path in sorted((root / "k8s" / "overlays").glob("*/kustomization.yaml")):
        changed.append(_write(path, _clone_lines(path.read_text(), f"warren/{like}", swap)))
    for path in sorted((root / "k8s" / "overlays").glob("*/*.yaml")):
        if path.name != "kustomization.yaml" and re.search(rf"name: {like}\b", path.read_text()):
            changed.append(_write(path, _clone_documents(path.read_text(), like, swap)))
    manifest = root / "k8s" / "base" / f"{like}.yaml"
    if manifest.exists():
        changed.append(_write(manifest.with_name(f"{name}.yaml"), swap(manifest.read_text())))
    scrape = root / "infra" / "prometheus" / "prometheus.yml"
    if scrape.exists():
        pattern = re.compile(rf"^  - job_name: warren-{like}$", re.M)
        changed.append(_write(scrape, _clone_block(scrape.read_text(), pattern, swap)))
    for path in sorted((root / "infra" / "postgres").rglob("*.sh")):
        text = path.read_text()
        if re.search(rf"\b{like}\}}", text):
            changed.append(_write(path, re.sub(rf"\b{like}\}}", f"{like} {name}}}", text)))
    return changed


def _clone_lines(text: str, token: str, swap: Swap, *, keyed: bool = False) -> str:
    """Each line containing ``token`` (with ``keyed``: in its ``KEY:`` / ``KEY=``) is followed
    by its swapped copy."""
    out = []
    for line in text.splitlines(keepends=True):
        out.append(line)
        key = re.split(r"[:=]", line, maxsplit=1)[0] if keyed else line
        if token in key and (not keyed or re.match(r"^\s*[A-Z0-9_]+\s*[:=]", line)):
            out.append(swap(line))
    return "".join(out)


def _clone_block(text: str, start: re.Pattern[str], swap: Swap) -> str:
    """The block that ``start`` opens (up to the next line as indented or less) is duplicated."""
    match = start.search(text)
    if match is None:
        return text
    indent = len(match.group(0)) - len(match.group(0).lstrip())
    end = match.end()
    for following in re.finditer(r"^.*$", text[match.end() + 1 :], re.M):
        line = following.group(0)
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        end = match.end() + 1 + following.end()
    block = text[match.start() : end].rstrip("\n") + "\n"
    separator = "\n" if text[match.start() : end].endswith("\n\n") else ""
    return text[:end].rstrip("\n") + "\n" + separator + swap(block) + text[end:].lstrip("\n")


def _clone_documents(text: str, like: str, swap: Swap) -> str:
    documents = text.split("\n---\n")
    out = []
    for document in documents:
        out.append(document)
        if re.search(rf"name: {like}\b", document):
            out.append(swap(document).rstrip("\n"))
    return "\n---\n".join(out) + ("" if text.endswith("\n") and out[-1].endswith("\n") else "\n")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _append_service(pyproject: Path, name: str) -> None:
    """Put ``name`` first in ``[tool.warren] services``: a new service consumes before others."""
    text = pyproject.read_text(encoding="utf-8")
    new_text, count = re.subn(r"(?m)^(services = \[)", rf'\g<1>"{name}", ', text, count=1)
    if count != 1:
        raise ProjectError(f"{pyproject}: no `services = [` line in [tool.warren]")
    pyproject.write_text(new_text, encoding="utf-8")


def _ports(project: Project) -> dict[str, int]:
    return {service.name: service.settings.http_port for service in project.build()}


def _distribution_of(member: Path) -> str:
    match = re.search(r'(?m)^name = "([^"]+)"', (member / "pyproject.toml").read_text())
    if match is None:
        raise ProjectError(f"{member}/pyproject.toml names no project")
    return match.group(1)


def _root(project: Project) -> Path:
    if project.root is None:
        raise ProjectError(
            "not in a project: run inside a folder whose pyproject.toml has [tool.warren]"
        )
    return project.root


@new.command("event")
def event(
    event_type: Annotated[str, typer.Argument(help="<aggregate>.<happened>.v<N>")],
    producer: Annotated[str, typer.Option(help="the one service that publishes it")],
    subject: Annotated[str, typer.Option(help="the field naming the aggregate")] = "order_id",
) -> None:
    """Scaffold the contract of EVENT_TYPE, register it and record its schema.

    Example: [bold]warren new event shipment.dispatched.v1 --producer shipping[/bold]
    """
    from warren.contracts.event import TYPE_PATTERN
    from warren.contracts.schema import write

    project = load_project()
    if not TYPE_PATTERN.match(event_type):
        raise ProjectError(f"{event_type!r} must look like '<aggregate>.<happened>.v<N>'")
    if event_type in project.registry:
        raise ProjectError(f"{event_type} exists already")
    if producer not in project.services:
        raise ProjectError(f"{producer!r} is not one of the services in [tool.warren]")
    aggregate, happened, version = event_type.split(".")
    class_name = _camel(aggregate) + _camel(happened) + (version.upper() if version != "v1" else "")
    package = _package_folder(project)
    module = package / f"{aggregate}.py"
    if not module.exists():
        module.write_text(
            f'"""The {aggregate} events: one definition each."""\n\n'
            "from __future__ import annotations\n\n"
            "from typing import ClassVar\nfrom uuid import UUID\n\n"
            "from pydantic import AwareDatetime\n\n"
            "from warren.contracts import Event\n",
            encoding="utf-8",
        )
    with module.open("a", encoding="utf-8") as file:
        file.write(
            f"\n\nclass {class_name}(Event):\n"
            f'    """What happened, said in a sentence for the people who consume it."""\n\n'
            f'    type: ClassVar[str] = "{event_type}"\n'
            f'    producer: ClassVar[str] = "{producer}"\n'
            f'    subject_field: ClassVar[str] = "{subject}"\n\n'
            f"    {subject}: UUID\n"
            f"    {happened}_at: AwareDatetime\n"
        )
    _register(package / "catalogue.py", f"{project.contracts}.{aggregate}", class_name)
    importlib.invalidate_caches()
    for loaded in [m for m in sys.modules if m.startswith(project.contracts)]:
        del sys.modules[loaded]
    registry = load_project().registry
    if project.schemas is not None:
        write(project.schemas, registry)
    typer.echo(f"wrote {class_name} in {module}; registered; schema recorded")


def _register(catalogue: Path, module: str, class_name: str) -> None:
    text = catalogue.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(REGISTRY = Registry\(\n?\s*\[)", rf"\g<1>\n        {class_name},", text)
    imports = list(re.finditer(r"(?m)^from \S+ import .+$", text))
    at = imports[-1].end() if imports else 0
    text = text[:at] + f"\nfrom {module} import {class_name}" + text[at:]
    catalogue.write_text(text, encoding="utf-8")


def _package_folder(project: Project) -> Path:
    spec = importlib.util.find_spec(project.contracts) if project.contracts else None
    if spec is None or not spec.submodule_search_locations:
        raise ProjectError("no contracts package: set [tool.warren] contracts = 'package'")
    return Path(next(iter(spec.submodule_search_locations)))


def _camel(word: str) -> str:
    return "".join(part.capitalize() for part in word.split("_"))
