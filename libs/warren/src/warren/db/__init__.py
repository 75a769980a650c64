"""PostgreSQL for Warren services: one pool per service, migrations, the outbox and the inbox.

``Database.open(url, migrations=...)`` gives a migrated pool; ``database.transaction()`` is the
unit of work in which a service changes its state, ``append``s the messages that change causes to
the outbox and ``record``s the message it handles in the inbox. A relay ``claim``s outbox rows,
publishes them, ``mark_sent``s them, and waits for more with ``listen``. Nothing here knows
RabbitMQ. Import this package, never its ``_``-modules.
"""

from warren.db._connection import Connection
from warren.db._database import Database
from warren.db._inbox import purge, record
from warren.db._listener import listen
from warren.db._migration import Migration, MigrationChanged, migrations_in
from warren.db._outbox import (
    OutboxRecord,
    OutboxRow,
    append,
    claim,
    defer,
    mark_sent,
    pending,
    purge_sent,
)

__all__ = [
    "Connection",
    "Database",
    "Migration",
    "MigrationChanged",
    "OutboxRecord",
    "OutboxRow",
    "append",
    "claim",
    "defer",
    "listen",
    "mark_sent",
    "migrations_in",
    "pending",
    "purge",
    "purge_sent",
    "record",
]
