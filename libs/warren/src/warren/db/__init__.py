"""PostgreSQL for Warren services: one pool per service, migrations, the outbox and the inbox.

``Database.open(url, migrations=...)`` gives a migrated pool; ``database.transaction()`` is the
unit of work in which a service changes its state. The runtime ``append``s the messages that
change causes to the outbox (``warren.db.outbox``) and ``record``s the message it handles in the
inbox (``warren.db.inbox``); its relay ``claim``s outbox rows, publishes them, ``mark_sent``s them,
and waits for more with ``warren.db.listener.listen``. A service author needs only what this
package exports. Nothing here knows RabbitMQ. Never import its ``_``-modules.
"""

from warren.db._connection import Connection
from warren.db._database import Database
from warren.db._migration import Migration, MigrationChanged, migrations_in

__all__ = [
    "Connection",
    "Database",
    "Migration",
    "MigrationChanged",
    "migrations_in",
]
