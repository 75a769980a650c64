"""Running a command from a test: it must succeed, or the test fails with what it printed."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path


def run_ok(
    *args: str | Path, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 600
) -> str:
    """Run ``args`` in ``cwd`` (with ``env``, else this process's); its standard output."""
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout
