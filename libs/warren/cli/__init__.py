"""The ``warren`` command line: run a suite locally, inspect events, operate queues.

The top layer: it may import everything in ``warren``; nothing imports it.
"""

from warren.cli import _run  # noqa: F401 - registers the command on the app
from warren.cli._app import app

__all__ = ["app"]
