"""``warren run``: the whole suite as local processes against AMQP_URL and DATABASE_URL.

Owns the terminal experience of ``make run``: start in order, print the URLs, forward logs, stop
everything cleanly on Ctrl-C or SIGTERM (or when one service dies).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Annotated

import typer
from rich.console import Console

from warren.cli._app import app
from warren.cli._project import load_project
from warren.runtime.suite import Suite

console = Console(stderr=True)


@app.command()
def run(
    services: Annotated[
        list[str] | None,
        typer.Argument(help="service modules, consumers first; default: [tool.warren] services"),
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for each /readyz")] = 60.0,
) -> None:
    """Start the project's services (or SERVICES) as processes; Ctrl-C stops them all.

    Waits until each is ready and prints their URLs. Example: [bold]warren run[/bold]
    """
    modules = services or list(load_project().services)
    if not modules:
        console.print("[red]no services:[/red] name them, or list them in [tool.warren] services")
        raise typer.Exit(2)
    code = asyncio.run(_run(modules, timeout))
    raise typer.Exit(code)


async def _run(modules: list[str], timeout: float) -> int:
    # Children write to a pipe, not a terminal: ask for readable lines when we are on one.
    env = (
        {"LOG_FORMAT": "console"} if sys.stdout.isatty() and "LOG_FORMAT" not in os.environ else {}
    )
    suite = Suite(modules, env=env, output=sys.stdout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        with console.status("starting services…"):
            await suite.start(timeout)
    except (RuntimeError, TimeoutError) as error:
        console.print(f"[red]could not start the suite:[/red] {error}")
        await suite.stop()
        return 1
    _print_urls(suite)
    console.print(
        "Call the APIs with a token: "
        "TOKEN=$(warren token --customer alice --scope orders:write --scope orders:read)"
    )
    exits = [asyncio.create_task(s.process.wait()) for s in suite.services.values() if s.process]
    waiting = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiting, *exits], return_when=asyncio.FIRST_COMPLETED)
    died = waiting not in done
    console.print("[yellow]a service exited; stopping the suite[/yellow]" if died else "stopping…")
    await suite.stop()
    for task in (waiting, *exits):
        task.cancel()
    console.print("all services stopped")
    return 1 if died else 0


def _print_urls(suite: Suite) -> None:
    # One line per service, URLs whole (a table cuts them below ~110 columns): copy, paste, go.
    console.print("[bold]Warren is running[/bold] — Ctrl-C stops it")
    width = max(len(name) for name in suite.services)
    for service in suite.services.values():
        console.print(
            f"  {service.name:<{width}}  {service.url}  (docs {service.url}/docs,"
            f" metrics {service.metrics_url})",
            highlight=False,
            soft_wrap=True,
        )
