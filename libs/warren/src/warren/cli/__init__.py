"""The ``warren`` command line: run a suite locally, inspect events, operate queues.

The top layer: it may import everything in ``warren``; nothing imports it.
"""

# Importing a command module registers its commands on the app.
from warren.cli import (  # noqa: F401
    _asyncapi,
    _check,
    _dashboards,
    _dlq,
    _events,
    _kubernetes,
    _monitoring,
    _publish,
    _run,
    _scaffold,
    _tail,
    _token,
    _topology,
    _unrouted,
)
from warren.cli._app import app, main

__all__ = ["app", "main"]
