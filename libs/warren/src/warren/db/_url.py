"""PostgreSQL URLs: which database one names, and the same server's URL for another database.

Owns URL arithmetic only; it connects to nothing.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit, urlunsplit


def database_name(url: str) -> str | None:
    """The database named in ``url``'s path, or None when the path names none."""
    name = unquote(urlsplit(url).path.lstrip("/"))
    return name or None


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server, with the same credentials."""
    return urlunsplit(urlsplit(url)._replace(path="/" + quote(name, safe="")))
