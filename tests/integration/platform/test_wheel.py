"""The platform as another team gets it: its wheel in a fresh virtual environment outside this
repository, and the one-file service of the docs (docs/guides/one-file-service.md) running
against the real broker and database.

Nothing of the workspace is importable there: only ``warren-platform`` and what it depends on,
resolved by uv from the package index (or its cache). The service takes a note over HTTP with a
token of the development issuer, publishes it through its outbox and handles it from its own
work queue; the test waits until the note is seen.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from asyncio.subprocess import PIPE
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.harness.command import run_ok
from warren.testing import free_ports, wait_until

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "guides" / "one-file-service.md"


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is missing: `make install` bootstraps it into .tools/")
    return found


@pytest.fixture(scope="module")
def venv(tmp_path_factory: Any) -> Path:
    """A fresh virtual environment, outside the repository, with the platform's wheel only."""
    outside = tmp_path_factory.mktemp("outside")
    dist = outside / "dist"
    run_ok(_uv(), "build", "--package", "warren-platform", "--wheel", "-o", dist, cwd=ROOT)
    (wheel,) = dist.glob("warren_platform-*.whl")
    run_ok(_uv(), "venv", "--python", sys.executable, outside / "venv", cwd=outside)
    python = outside / "venv" / "bin" / "python"
    run_ok(_uv(), "pip", "install", "--python", python, wheel, cwd=outside)
    return outside / "venv"


def test_the_environment_has_the_platform_and_no_suite(venv: Path) -> None:
    probe = (
        "import importlib.util as u, warren, warren.runtime, warren.testing;"
        "print(warren.__file__);"
        "print([n for n in ('shop_contracts','orders','inventory','payments','notifications')"
        " if u.find_spec(n)])"
    )
    location, suite = run_ok(venv / "bin" / "python", "-c", probe, cwd=venv).splitlines()
    assert str(ROOT) not in location
    assert suite == "[]"
    assert run_ok(venv / "bin" / "warren", "--version", cwd=venv).startswith("warren ")


@pytest.fixture
def service_file(tmp_path: Path) -> Path:
    """The docs' one-file service, as the page shows it."""
    match = re.search(r'```python title="notes.py"\n(.*?)^```$', DOC.read_text(), re.M | re.S)
    assert match is not None, f"{DOC} has no notes.py block"
    path = tmp_path / "notes.py"
    path.write_text(match.group(1))
    return path


@pytest.fixture
def running(
    venv: Path, service_file: Path, vhost_url: str, database_url: str, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    ports = free_ports(["http", "metrics"])
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AMQP_URL": vhost_url,
        "DATABASE_URL": database_url,
        "DATABASE_NAME": urlsplit(database_url).path[1:],
        "RABBITMQ_MANAGEMENT_URL": os.environ.get("RABBITMQ_MANAGEMENT_URL", ""),
        "HTTP_PORT": str(ports["http"]),
        "METRICS_PORT": str(ports["metrics"]),
        "WARREN_STATE_DIR": str(tmp_path / "state"),  # the development issuer's key
    }
    process = subprocess.Popen(
        [venv / "bin" / "python", service_file],
        cwd=service_file.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "notes.log").open("w"),
    )
    try:
        yield f"http://127.0.0.1:{ports['http']}", env
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_the_one_file_service_takes_a_note_and_sees_its_event(
    venv: Path, running: tuple[str, dict[str, str]]
) -> None:
    url, env = running
    scopes = ["--scope", "notes:write", "--scope", "notes:read"]
    issued = await asyncio.create_subprocess_exec(
        venv / "bin" / "warren", "token", "--customer", "me", *scopes, env=env, stdout=PIPE
    )
    token = (await issued.communicate())[0].decode().strip()
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:

        async def ready() -> bool:
            try:
                return (await http.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_until(ready, timeout=60, interval=0.5, what="notes ready")
        assert (await http.post("/notes", json={"text": "hello"})).status_code == 401
        taken = await http.post("/notes", json={"text": "hello"}, headers=auth)
        assert taken.status_code == 202, taken.text
        note_id = taken.json()["note_id"]

        async def seen() -> bool:
            note = (await http.get(f"/notes/{note_id}", headers=auth)).json()
            return bool(note["seen"])

        await wait_until(seen, timeout=30, interval=0.2, what="the note seen through the broker")
