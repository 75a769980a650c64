"""Chaos fixtures: the harness package importable, the profile chosen, a private base directory.

``make test`` runs the short profile (about a minute); ``make chaos`` sets ``CHAOS_PROFILE=long``.
Every server the harness starts lives under one temporary directory, removed after the test.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `import harness` (tests are not packages here)

from harness import LONG, SHORT, Profile

if not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists() and not shutil.which(
    "rabbitmq-server"
):
    message = "the chaos harness starts its own RabbitMQ nodes: install rabbitmq-server"
    if os.environ.get("WARREN_REQUIRE_SERVERS") == "1":  # make test: never pass by skipping
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)


@pytest.fixture(scope="session")
def profile() -> Profile:
    """SHORT unless CHAOS_PROFILE=long."""
    return LONG if os.environ.get("CHAOS_PROFILE") == "long" else SHORT


@pytest.fixture
def base() -> Iterator[Path]:
    """A private directory for this test's servers, removed after."""
    path = Path(tempfile.mkdtemp(prefix="warren-chaos-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
