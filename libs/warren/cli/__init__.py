"""The ``warren`` command line: run a suite locally, inspect events, operate queues.

The top layer: it may import everything in ``warren``; nothing imports it.
"""

# Importing a command module registers its commands on the app.
from warren.cli import _asyncapi, _dlq, _events, _kubernetes, _publish, _run, _topology  # noqa: F401
from warren.cli._app import app

__all__ = ["app"]
