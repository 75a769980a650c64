"""Where and with what a benchmark ran: versions of the stack and facts about the machine.

Read-only probes (package metadata, /proc, the management API, ``SHOW server_version``); a probe
that fails reports ``unknown`` rather than stopping the run.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import subprocess
from datetime import UTC, datetime
from typing import Any

import httpx

PACKAGES = ("aio-pika", "aiormq", "faststream", "pydantic", "orjson", "asyncpg", "uvloop")


def versions(management_url: str, database_url: str, auth: tuple[str, str]) -> dict[str, str]:
    """Python, the client libraries, RabbitMQ and PostgreSQL."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["opentelemetry-sdk"] = _package("opentelemetry-sdk")
    found["rabbitmq"] = _rabbitmq(management_url, auth)
    found["postgresql"] = _postgresql(database_url)
    return found


def facts() -> dict[str, Any]:
    """Cores, CPU model, kernel, memory, load average now, and the time."""
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
        memory = f"{total_kib / 1024 / 1024:.1f} GiB"
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "memory": memory,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def broker_pid() -> int:
    """The RabbitMQ (beam.smp) process on this machine, 0 when not local."""
    with contextlib.suppress(OSError, ValueError, subprocess.SubprocessError):
        out = subprocess.run(
            ["pgrep", "-o", "beam.smp"], capture_output=True, text=True, timeout=5, check=False
        )
        return int(out.stdout.split()[0]) if out.stdout.strip() else 0
    return 0


def _package(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _rabbitmq(management_url: str, auth: tuple[str, str]) -> str:
    with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
        response = httpx.get(f"{management_url}/api/overview", auth=auth, timeout=5)
        data = response.json()
        return f"{data['rabbitmq_version']} (Erlang {data['erlang_version']})"
    return "unknown"


def _postgresql(database_url: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["psql", database_url, "-Atc", "SHOW server_version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    return "unknown"
