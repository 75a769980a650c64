"""``warren events`` and ``warren schema``: the suite's event catalogue, read from the code.

Owns the operator's view of the registry: which event types exist, their versions, who publishes
each (``Event.producer``) and which services' work queues consume it (their subscriptions), and
the JSON Schema of one type. Nothing here talks to a broker.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from warren.cli._app import app
from warren.cli._project import Project, ProjectError, load_project
from warren.contracts.event import Event
from warren.contracts.registry import UnknownEventType
from warren.contracts.schema import write
from warren.runtime import Runtime, Service
from warren.runtime.asyncapi import event_schema


def consumers_of(services: list[Service[Any]]) -> dict[str, list[str]]:
    """Event type -> the work queues (``<service>.<purpose>``) whose handler tables take it."""
    consumers: dict[str, list[str]] = {}
    for service in services:
        for queue in Runtime(service).work_queues():
            for event in queue.handlers:
                consumers.setdefault(event.type, []).append(queue.name)
    return consumers


@app.command()
def events() -> None:
    """List every event type: version, producer and the services' queues that consume it.

    Example: [bold]warren events[/bold]
    """
    project = load_project()
    services = project.build()
    consumers = consumers_of(services)
    catalogue: dict[str, type[Event]] = {event.type: event for event in project.registry}
    for service in services:  # events a service uses but the catalogue forgot still show up
        catalogue.update((e.type, e) for e in service.publishes)
        catalogue.update((e.type, e) for s in service.subscriptions for e in s.handlers)
    table = Table(title=f"{len(catalogue)} event types")
    table.add_column("type", no_wrap=True)
    table.add_column("version", justify="right")
    table.add_column("producer")
    table.add_column("consumers")
    for name in sorted(catalogue):
        event = catalogue[name]
        queues = consumers.get(name, [])
        table.add_row(
            name,
            f"v{event.version()}",
            event.producer,
            ", ".join(queues) if queues else "[yellow]none[/yellow]",
        )
    Console().print(table)


@app.command()
def schema(
    event_type: Annotated[
        str | None, typer.Argument(help="event type, e.g. order.placed.v1")
    ] = None,
    record: Annotated[
        bool,
        typer.Option(help="record every event's schema in [tool.warren] schemas (after review)"),
    ] = False,
) -> None:
    """Print the JSON Schema (draft 2020-12) of EVENT_TYPE's data, or record them all.

    Example: [bold]warren schema order.placed.v1[/bold] (or [bold]warren schema --record[/bold])
    """
    if record:
        _record(load_project())
        return
    if event_type is None:
        Console(stderr=True).print("[red]name an event type, or pass --record[/red]")
        raise typer.Exit(2)
    try:
        event = load_project().registry.resolve(event_type)
    except UnknownEventType as unknown:
        Console(stderr=True).print(f"[red]{escape(str(unknown))}[/red]")
        raise typer.Exit(2) from None
    typer.echo(json.dumps(event_schema(event), indent=2, sort_keys=True))


def _record(project: Project) -> None:
    if project.schemas is None:
        raise ProjectError("no schemas folder: set [tool.warren] schemas = 'path/to/schemas'")
    changed = write(project.schemas, project.registry)
    for path in changed:
        typer.echo(f"recorded {path}")
    if not changed:
        typer.echo(f"{project.schemas}: every schema already recorded")
