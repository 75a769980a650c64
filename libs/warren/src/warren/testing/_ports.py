"""Free TCP ports for servers a test starts, so parallel runs never collide on fixed numbers."""

from __future__ import annotations

import socket
from collections.abc import Iterable


def free_ports(names: Iterable[str]) -> dict[str, int]:
    """A distinct port on 127.0.0.1 per name, nothing listening on any of them right now."""
    wanted = list(names)
    sockets = [socket.socket() for _ in wanted]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return {name: probe.getsockname()[1] for name, probe in zip(wanted, sockets, strict=True)}
    finally:
        for probe in sockets:
            probe.close()


def free_port() -> int:
    """One port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(["port"])["port"]
