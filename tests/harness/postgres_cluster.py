"""A throwaway PostgreSQL cluster made with ``initdb`` and run with ``pg_ctl``, for fault injection.

Owns one server of the tests' own: its data directory, port and socket directory live under a
temporary directory, so restarting or killing it never touches the machine's own PostgreSQL. As
root it runs the server as the ``postgres`` user (``initdb`` refuses root). Given ``tls`` it
accepts TLS connections only (``hostssl``; plain ones are rejected). It applies no schema.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.server_tls import ServerTLS
from warren.testing import free_port

_SERVER_USER = "postgres"


class ClusterUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed here, or the server failed to start."""


def _bindir() -> Path:
    """The directory of ``initdb``/``pg_ctl``: on PATH, else the newest under Debian's layout."""
    found = shutil.which("pg_ctl")
    if found is not None:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=_version)
    if not versions:
        raise ClusterUnavailable("pg_ctl is not installed (looked on PATH and /usr/lib/postgresql)")
    return versions[-1].parent


def _version(path: Path) -> int:
    name = path.parent.parent.name
    return int(name) if name.isdigit() else 0


@dataclass
class PostgresCluster:
    """One PostgreSQL server with its data under ``base``; trust auth on 127.0.0.1 only."""

    base: Path
    port: int = field(default_factory=free_port)
    tls: ServerTLS | None = None
    """When set, the server accepts TLS only; clients add ``?sslmode=verify-full&sslrootcert=``."""

    @property
    def url(self) -> str:
        """A URL on the maintenance database (``postgres``), as ``DATABASE_URL`` expects."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        """The data directory."""
        return self.base / "data"

    async def initialise(self) -> None:
        """``initdb`` the data directory (once)."""
        if self.data.exists():
            return
        self.base.mkdir(parents=True, exist_ok=True)
        _hand_over(self.base)
        await self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        if self.tls is not None:
            self._configure_tls(self.tls)

    def _configure_tls(self, tls: ServerTLS) -> None:
        """Copy the files where the server user owns them (PostgreSQL insists on a private key
        only it can read) and let TCP clients in over TLS only."""
        folder = self.base / "tls"
        folder.mkdir()
        for name, source in (
            ("server.crt", tls.certificate_file),
            ("server.key", tls.key_file),
            ("ca.crt", tls.ca_file),
        ):
            target = folder / name
            shutil.copyfile(source, target)
            target.chmod(0o600)
            _hand_over(target)
        _hand_over(folder)
        client = " clientcert=verify-full" if tls.require_client_certificate else ""
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"hostssl all all 127.0.0.1/32 trust{client}\n"
            "hostnossl all all 0.0.0.0/0 reject\n"
        )

    async def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200 -c synchronous_commit=off"
        )
        if self.tls is not None:
            tls = self.base / "tls"
            options += (
                f" -c ssl=on -c ssl_cert_file={tls / 'server.crt'}"
                f" -c ssl_key_file={tls / 'server.key'} -c ssl_ca_file={tls / 'ca.crt'}"
            )
        await self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-w",
            "-t", "60", "-o", options, "start",
        )  # fmt: skip

    async def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (roll back sessions) or ``immediate`` (crash-like)."""
        await self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    async def restart(self, mode: str = "fast") -> None:
        """Stop, then start again on the same port and data."""
        await self.stop(mode)
        await self.start()

    async def _run(self, tool: str, *args: str) -> None:
        argv = [str(_bindir() / tool), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", _SERVER_USER, "--", *argv]
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise ClusterUnavailable(f"{tool} failed: {output.decode(errors='replace')}")


def _hand_over(path: Path) -> None:
    """As root, give ``path`` to the server user (initdb refuses to run as root).

    Private temporary directories above it (mode 0700) get search permission for others, so the
    server user can reach its data; nothing becomes listable or writable.
    """
    if os.geteuid() != 0:
        return
    user = pwd.getpwnam(_SERVER_USER)
    os.chown(path, user.pw_uid, user.pw_gid)
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


@asynccontextmanager
async def postgres_cluster(
    base: Path, *, tls: ServerTLS | None = None
) -> AsyncIterator[PostgresCluster]:
    """A new, started cluster under ``base`` (TLS only given ``tls``); stopped, removed on exit."""
    cluster = PostgresCluster(base, tls=tls)
    try:
        await cluster.initialise()
        await cluster.start()
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists():
            await cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
