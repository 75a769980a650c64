"""``warren dashboards``: the project's Grafana dashboards, generated from code into JSON.

Owns rendering ``warren.telemetry.dashboard`` boards with Grafana's own typed SDK
(grafana-foundation-sdk) and writing them where Grafana's provisioning reads them, plus a board
derived from the project: the events of its catalogue by aggregate, and the panels its services
declare (``Service.dashboard``). ``--check`` compares instead of writing, for drift tests and CI.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from warren.cli._app import app
from warren.cli._project import Project, load_project
from warren.telemetry.dashboard import PLATFORM, RATE, Board, Graph, Query, Section

PROMETHEUS_UID = "prometheus"
"""The data source every panel queries: provisioned with this uid (infra/grafana)."""
JAEGER_URL = "http://localhost:16686"


def project_board(project: Project) -> Board:
    """The project's own board: its events by aggregate, then each service's declared panels."""
    by_aggregate: dict[str, list[str]] = {}
    for event in project.registry:
        by_aggregate.setdefault(event.type.split(".")[0], []).append(event.type)
    events = tuple(
        Graph(
            f"{aggregate} events",
            f"How many {aggregate} events are published, by type?",
            (
                Query(
                    "sum by (event_type) (rate(warren_messages_published_total"
                    f'{{event_type=~"{_alternatives(types)}",outcome="ok"}}{RATE}))',
                    "{{event_type}}",
                ),
            ),
            unit="ops",
        )
        for aggregate, types in sorted(by_aggregate.items())
    )
    services = tuple(
        Section(service.name, tuple(service.dashboard))
        for service in project.build()
        if service.dashboard
    )
    return Board(
        uid="warren-project",
        title="Warren — events and services",
        purpose="The project's events as they flow, and what each service chose to show.",
        sections=(Section("Events", events), *services),
    )


def render(board: Board) -> dict[str, Any]:
    """``board`` as Grafana dashboard JSON (a dict), built with grafana-foundation-sdk."""
    # Imported here: the SDK is the optional extra warren-platform[dashboards].
    from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import DashboardLinkType, DataSourceRef

    source = DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)

    builder = (
        dashboard.Dashboard(board.title)
        .uid(board.uid)
        .description(board.purpose)
        .tags(["warren", "generated"])
        .refresh("30s")
        .time("now-1h", "now")
        .link(
            dashboard.DashboardLink("Traces in Jaeger")
            .type(DashboardLinkType.LINK)
            .url(JAEGER_URL)
            .target_blank(True)
            .icon("external link")
        )
    )
    for section in board.sections:
        builder = builder.with_row(dashboard.Row(section.title))
        for graph in section.graphs:
            panel = (stat.Panel() if graph.kind == "stat" else timeseries.Panel()).title(
                graph.title
            )
            panel = panel.description(graph.answers).unit(graph.unit).datasource(source)
            panel = panel.height(8).span(8)
            for index, query in enumerate(graph.queries):
                target = (
                    prometheus.Dataquery()
                    .expr(query.expr)
                    .legend_format(query.legend or "__auto")
                    .ref_id(chr(ord("A") + index))
                    .datasource(source)
                )
                panel = panel.with_target(target)
            builder = builder.with_panel(panel)
    text = JSONEncoder(sort_keys=True, indent=2).encode(builder.build())
    rendered: dict[str, Any] = json.loads(text)
    return rendered


def boards(project: Project) -> list[Board]:
    """Every board of the project: the platform's, then the project's own."""
    return [*PLATFORM, project_board(project)]


def panels(board: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The panels of a rendered board (rows excluded)."""
    return (panel for panel in board.get("panels", []) if panel.get("type") != "row")


@app.command()
def dashboards(
    output: Annotated[Path, typer.Option(help="folder of the dashboards' JSON files")] = Path(
        "infra/grafana/dashboards"
    ),
    check: Annotated[bool, typer.Option(help="compare with the folder, write nothing")] = False,
) -> None:
    """Generate the Grafana dashboards (platform + project) as JSON files.

    Example: [bold]warren dashboards --output infra/grafana/dashboards[/bold]
    """
    project = load_project()
    stale = []
    for board in boards(project):
        path = output / f"{board.uid}.json"
        text = json.dumps(render(board), indent=2, sort_keys=True) + "\n"
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not check:
            output.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        typer.echo(f"{'stale' if check else 'wrote'} {path}")
    if check and stale:
        raise typer.Exit(1)


def _alternatives(types: list[str]) -> str:
    return "|".join(t.replace(".", "\\\\.") for t in sorted(types))
