"""docs/adding-a-service.md, executed: scaffold, write the guide's files, lint and test the new
service, then run it with the suite on the real broker and see its new event flow.

The page is the script: every ``warren new …`` line of its ``sh`` blocks is run and every
``python title="<path>"`` block is written, in order, in a copy of the repository. The copy's
sources come first on ``PYTHONPATH`` (the new member is not installed), so nothing in this
checkout changes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Shop, running_shop
from tests.harness.command import run_ok
from warren.runtime import Issuer
from warren.testing import EventTap, Servers, fresh_vhost

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "adding-a-service.md"
BIN = Path(sys.executable).parent
FENCE = re.compile(r'^```(\w+)?(?: title="([^"]+)")?\n(.*?)^```$', re.M | re.S)


def steps(text: str) -> list[tuple[str, str]]:
    """The guide's actions in order: ("run", command line) and ("write:<path>", content)."""
    found = []
    for language, title, body in FENCE.findall(text):
        if language == "sh":
            found += [("run", line) for line in body.splitlines() if line.startswith("warren new")]
        elif language == "python" and title:
            found.append((f"write:{title}", body))
    return found


def _copy_repository(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _env(copy: Path) -> dict[str, str]:
    sources = [copy / "libs" / "warren" / "src", copy / "contracts" / "src"]
    sources += sorted((copy / "services").glob("*/src"))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, sources))}


def _run(copy: Path, *args: str | Path, timeout: float = 300, **env: str) -> str:
    return run_ok(*args, cwd=copy, env={**_env(copy), **env}, timeout=timeout)


@pytest.fixture(scope="module")
def built(tmp_path_factory: Any) -> Path:
    """A copy of the repository after every step of the guide."""
    copy = tmp_path_factory.mktemp("guide")
    _copy_repository(copy)
    actions = steps(GUIDE.read_text())
    assert [kind for kind, _ in actions if kind == "run"], "the guide runs no warren new"
    for kind, content in actions:
        if kind == "run":
            _run(copy, BIN / "warren", *content.split()[1:])
        else:
            path = copy / kind.removeprefix("write:")
            assert path.exists(), f"the guide edits {path.name}, which the scaffold did not write"
            path.write_text(content, encoding="utf-8")
    return copy


def test_the_guide_has_steps_to_execute() -> None:
    kinds = [kind.split(":")[0] for kind, _ in steps(GUIDE.read_text())]
    assert kinds.count("run") >= 2
    assert kinds.count("write") >= 2


def test_the_new_service_passes_lint(built: Path) -> None:
    _run(built, BIN / "ruff", "check", ".")
    _run(built, BIN / "ruff", "format", "--check", ".")
    _run(built, BIN / "warren", "check", "imports")
    # as `make mypy` does: every member's src on MYPYPATH, the project's configuration
    paths = _env(built)["PYTHONPATH"]
    member = built / "services" / "shipping" / "src"
    _run(built, BIN / "python", "-m", "mypy", member, timeout=600, MYPYPATH=paths, PYTHONPATH="")


def test_the_scaffolded_tests_pass(built: Path) -> None:
    _run(
        built,
        BIN / "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/unit/shipping",
        "tests/integration/shipping",
        "tests/unit/contracts",
    )


@pytest.fixture(scope="module")
async def suite_with_shipping(
    built: Path, servers: Servers, issuer: Issuer, operator_token: str, tmp_path_factory: Any
) -> AsyncIterator[tuple[Shop, str]]:
    """Every service of the copy's [tool.warren], shipping included, as processes."""
    import tomllib

    project = tomllib.loads((built / "pyproject.toml").read_text())
    services = tuple(project["tool"]["warren"]["services"])
    assert "shipping" in services
    logs = tmp_path_factory.mktemp("guide-logs")
    async with (
        fresh_vhost(servers.amqp_url, servers.management_url, prefix="warren-guide") as url,
        running_shop(
            servers,
            url,
            logs,
            issuer,
            operator_token,
            services=services,
            PYTHONPATH=_env(built)["PYTHONPATH"],
        ) as shop,
    ):
        yield shop, url


async def test_a_confirmed_order_is_dispatched_by_the_new_service(
    suite_with_shipping: tuple[Shop, str],
) -> None:
    shop, url = suite_with_shipping
    async with EventTap(url, ["shipping.events"]) as tap:
        order_id = await shop.place_order("alice", [{"sku": "TEA-GREEN", "quantity": 1}])
        assert (await shop.outcome(order_id, timeout=30))["status"] == "confirmed"
        dispatched = await tap.wait_for("shipment.dispatched.v1", subject=order_id, timeout=20)

    assert dispatched.envelope.source == "/warren/shipping"  # the owner, as every source
    reader = {"Authorization": f"Bearer {shop.issuer.token('ops', ('shipping:read',))}"}
    records = await shop.http["shipping"].get("/shipping/records", headers=reader)
    assert records.status_code == 200, records.text
    assert [r["subject"] for r in records.json()] == [order_id]
