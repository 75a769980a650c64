"""``warren asyncapi``: the AsyncAPI 3.0.0 document of the whole suite, generated from the code.

Owns the command only: the document is ``warren.runtime.asyncapi.asyncapi_document`` over every
service of the project and the event catalogue. Each service serves its own part at
``/asyncapi.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from warren.cli._app import app
from warren.cli._project import load_project
from warren.cli._publish import DEFAULT_AMQP_URL, AmqpUrl
from warren.runtime.asyncapi import asyncapi_document


@app.command()
def asyncapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")
    ] = None,
    title: Annotated[str, typer.Option(help="the document's info.title")] = "Warren",
    amqp_url: AmqpUrl = DEFAULT_AMQP_URL,
) -> None:
    """Write the suite's AsyncAPI 3.0.0 document: servers, channels, messages, operations.

    The server and vhost come from --amqp-url (credentials are left out of the document).

    Example: [bold]warren asyncapi --output asyncapi.json[/bold]
    """
    project = load_project()
    document = asyncapi_document(
        project.build(), events=project.registry, amqp_url=amqp_url, title=title
    )
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    operations, channels = len(document["operations"]), len(document["channels"])
    Console(stderr=True).print(f"wrote {output}: {channels} channels, {operations} operations")
