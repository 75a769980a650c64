"""The AMQP URL: which vhost it names, whose credentials it carries, where its management API is.

Owns the arithmetic on ``amqp://user:password@host:port/vhost`` that the runtime, the CLI and the
test helpers share: the percent-decoded vhost (``/`` when the path is empty), the decoded
credentials (RabbitMQ's ``guest``/``guest`` when absent), the same URL pointing at another vhost,
and the management API's base URL. It never connects. A URL listing several nodes is ``nodes``'s.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit, urlunsplit


def vhost_of(amqp_url: str) -> str:
    """The vhost named in ``amqp_url`` (``/`` when the path is empty)."""
    return unquote(urlsplit(amqp_url).path[1:]) or "/"


def credentials(amqp_url: str) -> tuple[str, str]:
    """The user and password of ``amqp_url``, decoded (``guest``/``guest`` when absent)."""
    parts = urlsplit(amqp_url)
    return unquote(parts.username or "guest"), unquote(parts.password or "guest")


def vhost_url(amqp_url: str, vhost: str) -> str:
    """``amqp_url`` pointing at ``vhost`` instead of its own."""
    parts = urlsplit(amqp_url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


def management_of(amqp_url: str, management_url: str = "") -> tuple[str, tuple[str, str]]:
    """The management API base URL and the credentials to use with it (the AMQP URL's)."""
    parts = urlsplit(amqp_url)
    base = management_url or f"http://{parts.hostname or 'localhost'}:15672"
    return base.rstrip("/"), credentials(amqp_url)
