"""What ``warren.db`` calls a connection: asyncpg's own, or one lent by a pool.

Owns this one type, so every function here accepts both, and the check that a caller is inside a
transaction; it opens nothing.
"""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy
"""A connection to the service database, plain or borrowed from ``Database.pool``."""


def require_transaction(conn: Connection, caller: str) -> None:
    """Refuse to go on outside a transaction: what ``caller`` does must live and die with one."""
    if not conn.is_in_transaction():
        raise RuntimeError(
            f"{caller}() must run inside a transaction (use `async with database.transaction()`)"
        )
