"""The inbox: which messages each consumer has already handled, for exactly-once effects.

Owns the ``warren_inbox`` table. Recording a message id in the handler's own transaction makes the
record and the effects one unit: commit keeps both, rollback forgets both, and a redelivered
duplicate finds the record and is skipped. It never decides what to do with a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from warren.db._connection import Connection, require_transaction
from warren.db._migration import Migration

MIGRATION = Migration(
    name="warren.inbox.0001",
    sql="""
CREATE TABLE warren_inbox (
    consumer    text NOT NULL,
    message_id  text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
-- Retention deletes by received_at, which grows with insertion: a BRIN index is tiny and enough.
CREATE INDEX warren_inbox_received_at ON warren_inbox USING brin (received_at);
""",
)


async def record(conn: Connection, consumer: str, message_id: str) -> bool:
    """Record that ``consumer`` handles ``message_id``: True the first time, False for a duplicate.

    Must run inside the handler's transaction. A concurrent delivery of the same message waits
    here until the first one commits (then gets False) or rolls back (then gets True).
    """
    require_transaction(conn, "record")
    return bool(await record_many(conn, [(consumer, message_id)]))


async def record_many(
    conn: Connection, messages: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """``record`` for several (consumer, message id) pairs in one statement: the new ones.

    A pair absent from the result is a duplicate (recorded before, or twice in ``messages``).
    """
    require_transaction(conn, "record_many")
    rows = await conn.fetch(
        "INSERT INTO warren_inbox (consumer, message_id)"
        " SELECT * FROM unnest($1::text[], $2::text[])"
        " ON CONFLICT DO NOTHING RETURNING consumer, message_id",
        [consumer for consumer, _ in messages],
        [message_id for _, message_id in messages],
    )
    return {(row["consumer"], row["message_id"]) for row in rows}


async def purge(conn: Connection, older_than: timedelta) -> int:
    """Forget messages received more than ``older_than`` ago; return how many were forgotten.

    Keep ``older_than`` well beyond the longest redelivery delay, or a late duplicate gets through.
    """
    status = await conn.execute(
        "DELETE FROM warren_inbox WHERE received_at < now() - $1::interval", older_than
    )
    return int(status.split()[-1])
