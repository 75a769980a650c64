"""The tree before a change, materialised so that the saga can run it beside the current one.

Owns reading one commit's files out of this git repository into a temporary folder (``git
archive``, removed afterwards) and what a process needs to run that tree's code instead of the
venv's editable installs: the ``src`` folder of every workspace member (``[tool.uv.workspace]``
of that tree), in front on ``PYTHONPATH``, and that tree's services (``[tool.warren]``). Only the
services' processes run the old code; the load generator and the measurements stay this tree's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from warren.cli._project import load_project

BASELINE = "adfb4a8"
""""Before" in the saga's before/after rows: the tree just before the issue-16 work (fewer
round trips and commits per unit of work in the outbox, inbox, relay and unit of work) —
``adfb4a8`` "test: one run_ok helper for the guide and wheel tests…", the tip of main then."""

REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Tree:
    """A source tree the saga's services can run from."""

    root: Path
    commit: str  # the full sha ("" when unknown)
    roots: tuple[Path, ...]  # every workspace member's src folder: what goes on PYTHONPATH
    services: tuple[str, ...]  # [tool.warren] services, in start order
    contracts: str  # [tool.warren] contracts: the suite's events package

    @property
    def pythonpath(self) -> str:
        """The tree's source roots, in the ``PYTHONPATH`` form."""
        return os.pathsep.join(str(root) for root in self.roots)


def current() -> Tree:
    """This repository's own tree, as the venv has it installed (editable)."""
    try:
        commit = _git("rev-parse", "HEAD")
    except RuntimeError:  # not a git checkout: the tree is still what the venv runs
        commit = ""
    return _read(REPOSITORY, commit)


def is_dirty() -> bool:
    """True when this repository has uncommitted changes to tracked files (False if no git).

    The bench's own outputs (``bench/results``, ``bench/profiles``, ``bench/RESULTS.md``), which
    a run rewrites before the saga starts, do not count: they are not the code measured.
    """
    outputs = ("bench/results/", "bench/profiles/", "bench/RESULTS.md")
    try:
        changed = _git("status", "--porcelain", "--untracked-files=no").splitlines()
    except RuntimeError:
        return False
    return any(not line.split(maxsplit=1)[1].startswith(outputs) for line in changed)


@contextmanager
def checkout(ref: str) -> Iterator[Tree]:
    """The tree of ``ref`` (any commit-ish), extracted into a temporary folder for the block."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    folder = Path(tempfile.mkdtemp(prefix=f"warren-bench-{commit[:8]}-"))
    try:
        archive = subprocess.Popen(
            ["git", "-C", str(REPOSITORY), "archive", "--format=tar", commit],
            stdout=subprocess.PIPE,
        )
        extracted = subprocess.run(["tar", "-x", "-C", str(folder)], stdin=archive.stdout)
        if archive.stdout is not None:
            archive.stdout.close()
        if archive.wait() or extracted.returncode:
            raise RuntimeError(f"could not extract {ref} ({commit}) into {folder}")
        yield _read(folder, commit)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _read(root: Path, commit: str) -> Tree:
    """The source roots and services a tree declares; every service must be in a root."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    members = config["tool"]["uv"]["workspace"]["members"]
    roots = tuple(
        member / "src"
        for pattern in members
        for member in sorted(root.glob(pattern))
        if (member / "src").is_dir()
    )
    project = load_project(root)
    missing = [
        name
        for name in (*project.services, project.contracts)
        if not any((src / name).is_dir() for src in roots)
    ]
    if missing:
        raise RuntimeError(f"{root}: no source root holds {', '.join(missing)}")
    return Tree(root, commit, roots, project.services, project.contracts)


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(REPOSITORY), *args], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()
