"""A suite of services as local processes: start in order, wait until ready, stop cleanly.

Owns process supervision for ``make run``, the end-to-end tests and the fault-injection harness:
one ``python -m <service>`` per service, its own HTTP and metrics ports, its output prefixed and
forwarded,
SIGTERM on stop (SIGKILL only after a bounded wait). It knows services by module name only.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import httpx


@dataclass
class ServiceProcess:
    """One running service: its module, ports and process."""

    name: str
    port: int
    metrics_port: int = 0
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Base URL of its HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        """Where Prometheus scrapes it (``/metrics`` on its own port)."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"


def default_port(module: str) -> int:
    """The ``http_port`` default declared by ``<module>.main.Settings`` (read, not run)."""
    settings = importlib.import_module(f"{module}.main").Settings
    port: int = settings.model_fields["http_port"].default
    return port


class Suite:
    """Services started in the given order, each waited for before the next.

    Start consumers before the services that publish to them (the reference suite starts
    ``orders`` last), so every queue exists before the first event is published.
    """

    def __init__(
        self,
        modules: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        ports: Mapping[str, int] | None = None,
        metrics_ports: Mapping[str, int] | None = None,
        output: TextIO | None = None,
        log_dir: Path | None = None,
    ) -> None:
        ports, metrics_ports = ports or {}, metrics_ports or {}
        self.services: dict[str, ServiceProcess] = {}
        for module in modules:
            port = ports.get(module) or default_port(module)
            # Four processes on one machine cannot all take 9464: HTTP port + 1000 by default.
            metrics_port = metrics_ports.get(module) or port + 1000
            self.services[module] = ServiceProcess(module, port, metrics_port)
        self.env = {**os.environ, **(env or {})}
        self.output = output
        self.log_dir = log_dir

    async def start(self, timeout: float = 60.0) -> None:
        """Start every service in order; raise if one is not ready within ``timeout`` s."""
        for name in self.services:
            await self.start_one(name, timeout)

    async def start_one(
        self, name: str, timeout: float = 60.0, env: Mapping[str, str] | None = None
    ) -> None:
        """(Re)start one service, with ``env`` on top of the suite's, and wait for ``/readyz``."""
        service = self.services[name]
        env = {
            **self.env,
            **(env or {}),
            "HTTP_PORT": str(service.port),
            "METRICS_PORT": str(service.metrics_port),
            "PYTHONUNBUFFERED": "1",
        }
        service.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            name,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops children in order
        )
        service.pump = asyncio.create_task(self._pump(service))
        await self._wait_ready(service, timeout)

    async def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every service (reverse order), SIGKILL any still alive after ``timeout``."""
        for name in reversed(self.services):
            await self.stop_one(name, timeout)

    async def stop_one(self, name: str, timeout: float = 30.0) -> int | None:
        """Stop one service gracefully; its exit code."""
        return await self._end(self.services[name], signal.SIGTERM, timeout)

    async def kill(self, name: str) -> int | None:
        """SIGKILL one service at once (fault injection); its exit code."""
        return await self._end(self.services[name], signal.SIGKILL, 10.0)

    async def _end(
        self, service: ServiceProcess, how: signal.Signals, timeout: float
    ) -> int | None:
        process = service.process
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(how)
        try:
            code = await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            code = await process.wait()
        if service.pump is not None:
            await service.pump
        return code

    async def _wait_ready(self, service: ServiceProcess, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(base_url=service.url, timeout=2) as http:
            while True:
                process = service.process
                if process is not None and process.returncode is not None:
                    raise RuntimeError(f"{service.name} exited with {process.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/readyz")).status_code == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{service.name} not ready within {timeout:.0f} s")
                await asyncio.sleep(0.1)

    async def _pump(self, service: ServiceProcess) -> None:
        if service.process is None or service.process.stdout is None:
            return
        log = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = (self.log_dir / f"{service.name}.log").open("ab")
        try:
            async for line in service.process.stdout:
                if log is not None:
                    log.write(line)
                if self.output is not None:
                    self.output.write(f"{service.name:>13} | {line.decode(errors='replace')}")
                    self.output.flush()
        finally:
            if log is not None:
                log.close()
