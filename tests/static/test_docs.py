"""The documentation site builds strictly, and strict mode does catch a broken link.

``make docs`` (part of ``make test``) builds the real site; these tests prove the guard works on a
copy with a deliberately broken link and a broken API reference, and that every page the
navigation names exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _build(project: Path) -> subprocess.CompletedProcess[str]:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    return subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(project / "site")],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
        check=False,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The site's sources (mkdocs.yml, docs/, the platform's code, the changelog) in tmp_path."""
    shutil.copy(ROOT / "mkdocs.yml", tmp_path)
    shutil.copy(ROOT / "CHANGELOG.md", tmp_path)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copytree(ROOT / "libs" / "warren" / "src", tmp_path / "libs" / "warren" / "src")
    return tmp_path


def _pages(nav: list[object]) -> list[str]:
    found: list[str] = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        found += _pages(value) if isinstance(value, list) else [str(value)]
    return found


def test_every_page_in_the_navigation_exists() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages = _pages(config["nav"])
    assert len(pages) > 10
    assert [page for page in pages if not (ROOT / "docs" / page).is_file()] == []


def test_the_site_builds_strictly(copy: Path) -> None:
    result = _build(copy)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("page", "breakage"),
    [
        ("operations.md", "\nSee [the missing page](nowhere.md).\n"),
        ("reference/db.md", "\n::: warren.db.no_such_name\n"),
    ],
)
def test_a_broken_link_or_reference_fails_the_build(copy: Path, page: str, breakage: str) -> None:
    with (copy / "docs" / page).open("a", encoding="utf-8") as file:
        file.write(breakage)

    result = _build(copy)

    assert result.returncode != 0, "strict mode let a broken page through"
