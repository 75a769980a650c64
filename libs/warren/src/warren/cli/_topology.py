"""``warren topology``: the suite's broker topology — export it, apply it, compare it with a broker.

Owns the operator's view of topology as code: ``export`` writes RabbitMQ definitions (users and
permissions included), ``apply`` declares everything over AMQP, ``diff`` compares the code with the
live vhost through the management API. The topology itself comes from the services' own code.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.console import Console

from warren.cli._app import app
from warren.cli._project import load_project
from warren.messaging import Broker
from warren.messaging.definitions import ServiceTopology, definitions
from warren.messaging.url import management_of, vhost_of
from warren.runtime import Runtime

topology = typer.Typer(help="Export, apply and compare the suite's broker topology.")
app.add_typer(topology, name="topology")
console = Console(stderr=True)

AmqpUrl = Annotated[str, typer.Option(envvar="AMQP_URL", help="broker URL with the vhost")]
DEFAULT_AMQP = "amqp://guest:guest@localhost:5672/warren"


def service_topologies() -> list[ServiceTopology]:
    """Every service of the project with the work queues its code declares and the events it
    owns (the registry's events whose ``producer`` it is)."""
    project = load_project()
    return [
        ServiceTopology(
            service.name,
            tuple(Runtime(service).work_queues()),
            tuple(e for e in project.registry if e.producer == service.name),
        )
        for service in project.build()
    ]


@topology.command("export")
def export(
    output: Annotated[Path | None, typer.Option(help="file to write (default: stdout)")] = None,
    vhost: Annotated[str, typer.Option(help="the vhost to define")] = "warren",
    user_prefix: Annotated[str, typer.Option(help="service user = prefix + service")] = "warren-",
    passwords_from_env: Annotated[
        bool,
        typer.Option(help="hash WARREN_PASSWORD_<SERVICE> into the users (never commit that file)"),
    ] = False,
) -> None:
    """Write RabbitMQ definitions: vhost, one least-privilege user per service, the topology.

    Example: [bold]warren topology export --output infra/rabbitmq/definitions.json[/bold]
    """
    services = service_topologies()
    passwords = {}
    if passwords_from_env:
        for topology_ in services:
            variable = f"WARREN_PASSWORD_{topology_.service.upper()}"
            if not os.environ.get(variable):
                console.print(f"[red]{variable} is not set[/red]")
                raise typer.Exit(2)
            passwords[topology_.service] = os.environ[variable]
    document = definitions(vhost, services, user_prefix=user_prefix, passwords=passwords)
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        console.print(f"wrote {output}")


@topology.command("apply")
def apply(amqp_url: AmqpUrl = DEFAULT_AMQP) -> None:
    """Declare every service's exchanges, queues and bindings on the broker (idempotent).

    Example: [bold]warren topology apply[/bold] (with AMQP_URL=amqp://admin:…@rabbit/warren)
    """
    asyncio.run(_apply(amqp_url, service_topologies()))
    console.print(f"topology applied to vhost {vhost_of(amqp_url)!r}")


async def _apply(amqp_url: str, services: list[ServiceTopology]) -> None:
    # Exchanges first, so that every queue finds the exchanges it binds to.
    for topology_ in services:
        broker = Broker(amqp_url, topology_.service)
        await broker.connect()
        try:
            await broker.declare()
        finally:
            await broker.close()
    for topology_ in services:
        broker = Broker(amqp_url, topology_.service)
        await broker.connect()
        try:
            await broker.declare(topology_.queues)
        finally:
            await broker.close()


@topology.command("diff")
def diff(
    amqp_url: AmqpUrl = DEFAULT_AMQP,
    management_url: Annotated[
        str, typer.Option(envvar="RABBITMQ_MANAGEMENT_URL", help="management API base URL")
    ] = "",
) -> None:
    """Compare the code's exchanges, queues and bindings with the live vhost; exit 1 on drift.

    Example: [bold]warren topology diff[/bold]
    """
    vhost = vhost_of(amqp_url)
    wanted = definitions(vhost, service_topologies())
    live = asyncio.run(_live(amqp_url, management_url, vhost))
    differences = compare(wanted, live)
    for line in differences:
        console.print(line)
    if differences:
        raise typer.Exit(1)
    console.print(f"vhost {vhost!r} matches the code")


def compare(wanted: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """Human-readable differences between two definitions documents (topology only)."""
    lines: list[str] = []
    for kind, key in (
        ("exchanges", _exchange_key),
        ("queues", _queue_key),
        ("bindings", _binding_key),
    ):
        want = {key(item): item for item in wanted.get(kind, [])}
        have = {key(item): item for item in live.get(kind, []) if _is_declared(kind, item)}
        for missing in sorted(set(want) - set(have)):
            lines.append(f"- missing {kind[:-1]}: {missing}")
        for extra in sorted(set(have) - set(want)):
            lines.append(f"+ unexpected {kind[:-1]}: {extra}")
        if kind == "queues":
            for name in sorted(set(want) & set(have)):
                if want[name]["arguments"] != have[name]["arguments"]:
                    lines.append(
                        f"~ queue {name}: arguments {have[name]['arguments']} "
                        f"!= {want[name]['arguments']}"
                    )
    return lines


def _is_declared(kind: str, item: dict[str, Any]) -> bool:
    """Leave out what every vhost has: the default and ``amq.*`` exchanges and their bindings."""
    name = str(item["source"] if kind == "bindings" else item["name"])
    return bool(name) and not name.startswith("amq.")


def _exchange_key(item: dict[str, Any]) -> str:
    return f"{item['name']} ({item['type']})"


def _queue_key(item: dict[str, Any]) -> str:
    return str(item["name"])


def _binding_key(item: dict[str, Any]) -> str:
    return f"{item['source']} -[{item['routing_key']}]-> {item['destination']}"


async def _live(amqp_url: str, management_url: str, vhost: str) -> dict[str, Any]:
    base, auth = management_of(amqp_url, management_url)
    async with httpx.AsyncClient(base_url=base, auth=auth, timeout=30) as http:
        response = await http.get(f"/api/definitions/{quote(vhost, safe='')}")
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document
