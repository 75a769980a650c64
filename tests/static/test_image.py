"""Dockerfile: hadolint passes, and the image keeps its promises (multi-stage from the lock file,
non-root, tini as PID 1, a health check, one target per service on its port, no build tools).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from warren.runtime import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def stages(text: str) -> dict[str, str]:
    """Stage name -> its instructions."""
    parts = re.split(r"(?m)^FROM\s+\S+\s+AS\s+(\S+)\s*$", text)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def lint(text: str, hadolint: str, runner: Any) -> tuple[int, str]:
    result = runner(hadolint, "--no-color", "-", stdin=text)
    return result.returncode, result.stdout + result.stderr


def test_hadolint_passes(hadolint: str, runner: Any) -> None:
    code, findings = lint(DOCKERFILE, hadolint, runner)
    assert code == 0, findings


@pytest.mark.parametrize(
    ("breakage", "rule"),
    [
        (
            lambda t: t.replace("python:3.11-slim-bookworm AS runtime", "python AS runtime"),
            "DL3006",
        ),
        (lambda t: t.replace("tini=0.19.0-1", "tini"), "DL3008"),
        (lambda t: t.replace("&& rm -rf /var/lib/apt/lists/*", ""), "DL3009"),
    ],
)
def test_hadolint_rejects_a_broken_dockerfile(
    breakage: Any, rule: str, hadolint: str, runner: Any
) -> None:
    broken = breakage(DOCKERFILE)
    assert broken != DOCKERFILE
    code, findings = lint(broken, hadolint, runner)
    assert code != 0
    assert rule in findings


def test_dependencies_come_from_the_lock_and_a_service_image_holds_one_member() -> None:
    build = stages(DOCKERFILE)["build"]
    (sync,) = re.findall(r"(?m)^\s*uv sync (.*)$", build)
    for flag in ("--frozen", "--no-dev", "--no-editable", '--package "$SERVICE"'):
        assert flag in sync


def test_final_image_is_lean_and_unprivileged(suite: tuple[str, ...]) -> None:
    runtime = stages(DOCKERFILE)["runtime"]
    for final in ("tools", "service"):
        copies = re.findall(r"(?m)^COPY\s.*", stages(DOCKERFILE)[final])
        assert copies
        assert not any("/uv" in copy for copy in copies), copies
    assert not re.search(r"build-essential|gcc|/usr/local/bin/uv", runtime)
    assert re.search(r"(?m)^USER 10001:10001$", runtime)
    assert re.search(r'(?m)^ENTRYPOINT \["/usr/bin/tini", "--"\]$', runtime)
    assert re.search(r"(?m)^HEALTHCHECK .*\n.*/readyz", runtime)
    bases = re.findall(r"(?m)^FROM (\S+) AS (?:build|runtime)$", DOCKERFILE)
    assert len(set(bases)) == 1, "build and runtime share a base (the venv's interpreter path)"


def test_one_generic_service_target_runs_the_service_it_was_built_for(
    suite: tuple[str, ...],
) -> None:
    target = stages(DOCKERFILE)["service"]
    assert re.search(r"(?m)^ARG SERVICE$", target)
    assert "ENV WARREN_SERVICE=${SERVICE}" in target
    assert 'exec python -m \\"$WARREN_SERVICE\\"' in target
    for name in suite:
        assert name not in DOCKERFILE.split("# build:")[1], f"{name}: no service is named there"


def test_compose_builds_each_service_from_the_one_target_on_its_port(
    suite: tuple[str, ...], compose_config: dict[str, Any]
) -> None:
    for name in suite:
        service = compose_config["services"][name]
        assert service["build"]["target"] == "service"
        assert service["build"]["args"] == {"SERVICE": name}
        assert int(service["environment"]["HTTP_PORT"]) == _settings(name).http_port


def test_build_context_keeps_what_the_build_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    copied = re.findall(r"(?m)^COPY (?!--from)(.+) \S+$", DOCKERFILE)
    for sources in copied:
        for source in sources.split():
            assert f"!{source.rstrip('/')}/" in ignore or f"!{source}" in ignore, source


def _settings(service: str) -> ServiceSettings:
    import importlib

    settings: ServiceSettings = importlib.import_module(f"{service}.main").Settings()
    return settings
