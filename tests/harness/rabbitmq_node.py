"""Throwaway RabbitMQ nodes and clusters started from the installed server, for fault injection.

Owns the lifecycle of nodes the tests start themselves: each has its own node name, AMQP and
distribution ports, data and log directories and Erlang cookie under a temporary directory, so
stopping, killing or clustering it never touches the machine's own broker. It does not declare
anything inside the broker beyond a vhost and its permissions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.server_tls import ServerTLS
from warren.testing import free_port

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


class NodeUnavailable(RuntimeError):
    """The RabbitMQ server is not installed here, or a node failed to start."""


def _executable(preferred: str, name: str) -> str:
    if Path(preferred).exists():
        return preferred  # the real script: the Debian wrapper would switch to the rabbitmq user
    found = shutil.which(name)
    if found is None:
        raise NodeUnavailable(f"{name} is not installed")
    return found


@dataclass
class RabbitNode:
    """One RabbitMQ node ``<name>@localhost`` with its own ports and directories under ``base``."""

    name: str
    base: Path
    cookie: str
    amqp_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    tls: ServerTLS | None = None
    """When set, the AMQP port speaks TLS only (``amqps://``); no plain listener is opened."""
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def nodename(self) -> str:
        """The Erlang node name, ``<name>@localhost``."""
        return f"{self.name}@localhost"

    @property
    def address(self) -> str:
        """``127.0.0.1:<amqp port>``, as listed in a multi-node AMQP URL."""
        return f"127.0.0.1:{self.amqp_port}"

    def amqp_url(self, vhost: str = "") -> str:
        """The AMQP URL of this node (guest, allowed on loopback) and ``vhost``.

        ``amqps://`` when the node has ``tls``; the client's CA and certificate are the caller's
        to add (``?cafile=...&certfile=...&keyfile=...``).
        """
        scheme = "amqps" if self.tls else "amqp"
        return f"{scheme}://guest:guest@{self.address}/{vhost}"

    @property
    def is_running(self) -> bool:
        """True while the server process started by :meth:`start` is alive."""
        return self.process is not None and self.process.returncode is None

    def _env(self) -> dict[str, str]:
        home = self.base / "home"
        return {
            **os.environ,
            "HOME": str(home),  # the node's and the CLI's Erlang cookie live here
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "node.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def _write_files(self) -> None:
        home = self.base / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(self.cookie)
            cookie.chmod(0o400)
        (self.base / "rabbitmq-env.conf").write_text("")  # never read the machine's env file
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq.conf").write_text(
            self._listeners()
            # the production choice for three nodes: a node cut off from the majority pauses
            + "cluster_partition_handling = pause_minority\n"
        )

    def _listeners(self) -> str:
        if self.tls is None:
            return f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}\n"
        required = self.tls.require_client_certificate
        verify = "verify_peer" if required else "verify_none"
        return (
            "listeners.tcp = none\n"
            f"listeners.ssl.default = 127.0.0.1:{self.amqp_port}\n"
            f"ssl_options.cacertfile = {self.tls.ca_file}\n"
            f"ssl_options.certfile = {self.tls.certificate_file}\n"
            f"ssl_options.keyfile = {self.tls.key_file}\n"
            f"ssl_options.verify = {verify}\n"
            f"ssl_options.fail_if_no_peer_cert = {'true' if required else 'false'}\n"
        )

    async def start(self, timeout: float = 90.0) -> None:
        """Start the node (or restart a stopped one) and wait until it accepts clients."""
        if self.is_running:
            return
        self._write_files()
        log = (self.base / "server.out").open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                _executable(SERVER, "rabbitmq-server"),
                env=self._env(),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() takes beam and children
            )
        finally:
            log.close()
        await self._await_startup(timeout)

    async def _await_startup(self, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if not self.is_running:
                raise NodeUnavailable(f"{self.nodename} exited; see {self.base / 'server.out'}")
            code, _ = await self._run_ctl("await_startup", "--timeout", "10", check=False)
            if code == 0:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise NodeUnavailable(f"{self.nodename} not up within {timeout:.0f} s")
            await asyncio.sleep(0.5)

    async def stop(self, timeout: float = 60.0) -> None:
        """Stop the node gracefully (``rabbitmqctl stop``); kill it if that takes too long."""
        if not self.is_running:
            return
        await self._run_ctl("stop", check=False)
        try:
            await asyncio.wait_for(self._wait(), timeout)
        except TimeoutError:
            await self.kill()

    async def kill(self) -> None:
        """SIGKILL the node's whole process group at once (no shutdown, no goodbyes)."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await self._wait()

    async def _wait(self) -> None:
        if self.process is not None:
            await self.process.wait()

    async def ctl(self, *args: str) -> str:
        """Run ``rabbitmqctl -n <node> args...``; its output; raise if it fails."""
        _, output = await self._run_ctl(*args)
        return output

    async def _run_ctl(self, *args: str, check: bool = True) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            _executable(CTL, "rabbitmqctl"),
            "-n",
            self.nodename,
            *args,
            env=self._env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        text = output.decode(errors="replace")
        code = process.returncode if process.returncode is not None else -1
        if check and code != 0:
            raise NodeUnavailable(f"rabbitmqctl {' '.join(args)} on {self.nodename}: {text}")
        return code, text

    async def add_vhost(self, vhost: str) -> None:
        """Create ``vhost`` (cluster-wide) and give ``guest`` every permission on it."""
        await self.ctl("add_vhost", vhost)
        await self.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")

    async def close_connections(self, vhost: str, reason: str = "warren fault injection") -> None:
        """Force-close every client connection to ``vhost`` on this node."""
        await self.ctl("close_all_connections", "--vhost", vhost, reason)

    async def join(self, seed: RabbitNode) -> None:
        """Make this (fresh, running) node a member of ``seed``'s cluster."""
        await self.ctl("stop_app")
        await self.ctl("join_cluster", seed.nodename)
        await self.ctl("start_app")
        await self.ctl("await_startup", "--timeout", "60")


@dataclass
class RabbitCluster:
    """Nodes started together; one node or several joined into one cluster."""

    nodes: list[RabbitNode]
    vhost: str

    def amqp_url(self, nodes: Sequence[RabbitNode] | None = None) -> str:
        """One AMQP URL listing ``nodes`` (default all): ``amqp://u:p@h1:p1,h2:p2/vhost``."""
        hosts = ",".join(node.address for node in (nodes or self.nodes))
        scheme = "amqps" if self.nodes[0].tls else "amqp"
        return f"{scheme}://guest:guest@{hosts}/{self.vhost}"

    def node_url(self, index: int = 0) -> str:
        """The AMQP URL of one node, on the cluster's vhost."""
        return self.nodes[index].amqp_url(self.vhost)

    def running(self) -> list[RabbitNode]:
        """The nodes whose server process is up."""
        return [node for node in self.nodes if node.is_running]


@asynccontextmanager
async def rabbitmq_cluster(
    base: Path,
    size: int = 1,
    *,
    prefix: str = "warren-chaos",
    vhost: str = "warren",
    tls: ServerTLS | None = None,
) -> AsyncIterator[RabbitCluster]:
    """Start ``size`` new nodes under ``base`` (clustered when more than one), with ``vhost``.

    With ``tls`` every node listens for ``amqps://`` only. Every node is stopped and its
    directory removed on exit, whatever happened inside.
    """
    cookie = secrets.token_hex(16).upper()
    tag = secrets.token_hex(3)
    nodes = [
        RabbitNode(f"{prefix}-{tag}-{number}", base / f"node-{number}", cookie, tls=tls)
        for number in range(1, size + 1)
    ]
    try:
        await asyncio.gather(*(node.start() for node in nodes))
        for node in nodes[1:]:
            await node.join(nodes[0])
        await nodes[0].add_vhost(vhost)
        yield RabbitCluster(nodes, vhost)
    finally:
        await asyncio.gather(*(node.kill() for node in nodes), return_exceptions=True)
        for node in nodes:
            shutil.rmtree(node.base, ignore_errors=True)
