"""Whether a connection URL protects its traffic with verified TLS, judged from the URL alone.

Owns the rules that ``ServiceSettings`` applies in production: an AMQP URL to a host off this
machine uses ``amqps://`` with certificate verification left on, and a PostgreSQL URL to such a
host asks for ``sslmode=verify-full`` (certificate chain *and* host name). It opens nothing: the
clients (aiormq, asyncpg) read the same URL parameters and do the handshake themselves.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qs, urlsplit

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})
_VERIFYING_SSLMODE = "verify-full"


def is_local(host: str) -> bool:
    """True for this machine: ``localhost``, a loopback address, or a Unix socket directory."""
    name = host.strip().strip("[]").lower()
    if not name or name.startswith("/") or name in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def amqp_transport_problem(url: str) -> str | None:
    """Why ``url`` (one or several nodes) is not verified TLS off this machine, or None if it is."""
    parts = urlsplit(url)
    remote = [host for host in _hosts(parts.netloc) if not is_local(host)]
    if not remote:
        return None
    if parts.scheme != "amqps":
        return f"AMQP_URL is plain {parts.scheme}:// to {', '.join(remote)}: use amqps://"
    if _query(url).get("no_verify_ssl", "0") != "0":
        return "AMQP_URL sets no_verify_ssl: the broker's certificate must be verified"
    return None


def database_transport_problem(url: str) -> str | None:
    """Why ``url`` is not ``sslmode=verify-full`` off this machine, or None if it is."""
    query = _query(url)
    hosts = query["host"].split(",") if "host" in query else _hosts(urlsplit(url).netloc)
    if all(is_local(host) for host in hosts):
        return None
    sslmode = query.get("sslmode", "")
    if sslmode != _VERIFYING_SSLMODE:
        found = f"sslmode={sslmode}" if sslmode else "no sslmode (asyncpg: unverified TLS)"
        return f"DATABASE_URL has {found}: use sslmode=verify-full and sslrootcert=<CA file>"
    return None


def _hosts(netloc: str) -> list[str]:
    """The hosts of ``user:pass@h1:p1,[v6]:p2,h3``, without ports."""
    hosts = []
    for node in netloc.rpartition("@")[2].split(","):
        node = node.strip()
        if node.startswith("["):
            hosts.append(node[1 : node.find("]")])
        elif node:
            hosts.append(node.rpartition(":")[0] if ":" in node else node)
    return hosts


def _query(url: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}
