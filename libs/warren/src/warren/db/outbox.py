"""The transactional outbox: messages written with the state change that caused them.

Owns the ``warren_outbox`` table and every query on it: append (reserving each aggregate's head
row for the writer's own publish right after commit, and notifying the relays, on commit, of
rows that are theirs), claim (the earliest unsent row per aggregate, ``SKIP LOCKED`` so relays
share the work without publishing a row twice or out of order), mark sent, release (a reserved
row the writer could not publish), defer (a failed row's backoff, kept in the row so every relay
honours it and it holds back only its own aggregate), lag and retention.
It never talks to a broker and never interprets a message: headers and properties are opaque JSON
for the publisher.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import orjson

from warren.db._connection import Connection, require_transaction
from warren.db._migration import Migration

CHANNEL = "warren_outbox"
"""The LISTEN/NOTIFY channel an append notifies when its transaction commits."""

MIGRATION = Migration(
    name="warren.outbox.0001",
    sql="""
CREATE TABLE warren_outbox (
    seq          bigserial PRIMARY KEY,
    id           uuid NOT NULL UNIQUE,
    aggregate_id text NOT NULL,
    exchange     text NOT NULL,
    routing_key  text NOT NULL,
    body         bytea NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}',
    properties   jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);
-- The relay's scan, and its "is an earlier row of this aggregate still unsent?" probe.
CREATE INDEX warren_outbox_unsent ON warren_outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX warren_outbox_unsent_aggregate ON warren_outbox (aggregate_id, seq)
    WHERE sent_at IS NULL;
-- Retention deletes by sent_at, which grows with seq: a BRIN index is tiny and enough.
CREATE INDEX warren_outbox_sent_at ON warren_outbox USING brin (sent_at);
""",
)

BACKOFF_MIGRATION = Migration(
    name="warren.outbox.0002",
    sql="""
-- Backoff per aggregate: a row whose publish failed is not claimed again before
-- next_attempt_at, and its aggregate's later rows wait behind it; other aggregates flow on.
-- (Columns with constant defaults: no table rewrite.)
ALTER TABLE warren_outbox
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN last_error      text;
""",
)

# One round trip however many records: the arrays are unnested in order, so seq follows the
# order of ``records``; the jsonb columns travel as text so no connection codec is assumed.
# With a reservation ($9 seconds, NULL for none) the first record of each aggregate that has no
# earlier unsent row is the writer's to publish after commit: its next_attempt_at keeps relays
# off it until then (a relay takes it after that, should the writer die first). Every later row
# of that aggregate waits behind it as always, so the per-aggregate order holds. The probe sees
# the rows committed before this statement: a concurrent writer of the same aggregate is
# serialised by the aggregate's own row lock, as every step that changes an aggregate takes it.
# Only rows left to the relays are worth a NOTIFY.
_APPEND = """
WITH incoming AS (
    SELECT r.*, $9::float8 IS NOT NULL
        AND row_number() OVER (PARTITION BY r.aggregate_id ORDER BY r.n) = 1
        AND NOT EXISTS (
            SELECT 1 FROM warren_outbox AS earlier
            WHERE earlier.aggregate_id = r.aggregate_id AND earlier.sent_at IS NULL
        ) AS reserved
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[],
                $7::text[])
        WITH ORDINALITY AS r(id, aggregate_id, exchange, routing_key, body, headers, properties, n)
),
appended AS (
    INSERT INTO warren_outbox
        (id, aggregate_id, exchange, routing_key, body, headers, properties, next_attempt_at)
    SELECT i.id, i.aggregate_id, i.exchange, i.routing_key, i.body,
           i.headers::jsonb, i.properties::jsonb,
           CASE WHEN i.reserved THEN now() + make_interval(secs => $9) END
    FROM incoming AS i
    ORDER BY i.n
    RETURNING id, next_attempt_at IS NOT NULL AS reserved
),
notified AS (
    SELECT pg_notify($8, count(*)::text) FROM appended WHERE NOT reserved HAVING count(*) > 0
)
SELECT id FROM appended WHERE reserved
UNION ALL
SELECT NULL FROM notified
"""

# ``followed``: a later unsent row of the same aggregate waits behind this one (an index probe
# on warren_outbox_unsent_aggregate), so the relay knows to claim again at once.
# A head row in backoff (next_attempt_at in the future) is not claimed, and the NOT EXISTS keeps
# every later row of its aggregate back too: the aggregate waits, in order, and no other does.
_CLAIM = """
SELECT o.seq, o.id, o.aggregate_id, o.exchange, o.routing_key, o.body,
       o.headers::text AS headers, o.properties::text AS properties, o.created_at, o.attempts,
       EXISTS (
           SELECT 1 FROM warren_outbox AS later
           WHERE later.aggregate_id = o.aggregate_id
             AND later.sent_at IS NULL
             AND later.seq > o.seq
       ) AS followed
FROM warren_outbox AS o
WHERE o.sent_at IS NULL
  AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
  AND NOT EXISTS (
      SELECT 1 FROM warren_outbox AS earlier
      WHERE earlier.aggregate_id = o.aggregate_id
        AND earlier.sent_at IS NULL
        AND earlier.seq < o.seq
  )
ORDER BY o.seq
LIMIT $1
FOR UPDATE OF o SKIP LOCKED
"""

# 2^attempts grows past any cap long before the exponent limit; least() keeps power() in range.
_DEFER = """
WITH deferred AS (
    UPDATE warren_outbox AS o
    SET attempts = o.attempts + 1,
        next_attempt_at = now()
            + make_interval(secs => least($3 * power(2, least(o.attempts, 30)), $4)),
        last_error = left(f.error, 1000)
    FROM unnest($1::uuid[], $2::text[]) AS f(id, error)
    WHERE o.id = f.id AND o.sent_at IS NULL
    RETURNING o.next_attempt_at
)
SELECT extract(epoch FROM min(next_attempt_at) - clock_timestamp())::float8 FROM deferred
"""


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """A message to publish once the transaction that appends it commits.

    ``id`` is the message id (the event id); ``aggregate_id`` orders messages: those of one
    aggregate are published in append order. ``headers`` and ``properties`` must be JSON-ready;
    they are stored as given and handed back to the publisher untouched.
    """

    id: UUID
    aggregate_id: str
    exchange: str
    routing_key: str
    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxRow(OutboxRecord):
    """An appended record as a relay claims it: with its place in the log and its write time.

    ``followed`` is True when a later unsent record of the same aggregate waits behind it: it
    becomes claimable once this one is marked sent. ``attempts`` counts its failed publishes.
    """

    seq: int
    created_at: datetime
    followed: bool = False
    attempts: int = 0


async def append(
    conn: Connection, records: Sequence[OutboxRecord], *, reserve_for: float | None = None
) -> list[OutboxRecord]:
    """Append ``records`` in this transaction; those the caller is to publish after commit.

    Call it on the connection of the transaction that changes the state, so the messages exist
    exactly when the change does. A rollback discards the rows and any notification.

    Without ``reserve_for`` every row is the relays', who are notified on commit, and the result
    is empty. With it (seconds), the head of each aggregate (its first record when no earlier
    row of the aggregate is unsent) is reserved for the caller and returned: publish it after
    commit, then ``mark_sent`` it, or ``release`` it to the relays if that fails. Relays leave a
    reserved row alone for ``reserve_for`` seconds and take it after, should the caller die.
    The other rows are the relays', notified on commit; they follow their aggregate's head.
    """
    if not records:
        return []
    rows = await conn.fetch(
        _APPEND,
        [r.id for r in records],
        [r.aggregate_id for r in records],
        [r.exchange for r in records],
        [r.routing_key for r in records],
        [r.body for r in records],
        [orjson.dumps(r.headers).decode() for r in records],
        [orjson.dumps(r.properties).decode() for r in records],
        CHANNEL,
        reserve_for,
    )
    reserved = {row["id"] for row in rows if row["id"] is not None}
    return [r for r in records if r.id in reserved]


async def claim(conn: Connection, limit: int) -> list[OutboxRow]:
    """Lock and return up to ``limit`` rows to publish, oldest first, until the transaction ends.

    Only the earliest unsent row of each aggregate is eligible, and only once its backoff (see
    ``defer``) is over; rows locked by another relay are skipped, so concurrent relays never take
    the same row nor overtake within an aggregate.
    Publish, ``mark_sent`` and commit in the same transaction; a rollback puts the rows back.
    """
    require_transaction(conn, "claim")
    rows = await conn.fetch(_CLAIM, limit)
    return [
        OutboxRow(
            seq=row["seq"],
            id=row["id"],
            aggregate_id=row["aggregate_id"],
            exchange=row["exchange"],
            routing_key=row["routing_key"],
            body=row["body"],
            headers=orjson.loads(row["headers"]),
            properties=orjson.loads(row["properties"]),
            created_at=row["created_at"],
            followed=row["followed"],
            attempts=row["attempts"],
        )
        for row in rows
    ]


# ``followed``: the aggregate of a row just marked has a later unsent row, now claimable.
_MARK_SENT = """
WITH marked AS (
    UPDATE warren_outbox SET sent_at = now(), next_attempt_at = NULL
    WHERE id = ANY($1::uuid[]) AND sent_at IS NULL
    RETURNING aggregate_id, seq
)
SELECT coalesce(bool_or(EXISTS (
    SELECT 1 FROM warren_outbox AS later
    WHERE later.aggregate_id = marked.aggregate_id
      AND later.sent_at IS NULL
      AND later.seq > marked.seq
)), false)
FROM marked
"""


async def mark_sent(conn: Connection, ids: Sequence[UUID]) -> bool:
    """Record that the messages ``ids`` were published (confirmed by the broker).

    True when a later unsent row of one of their aggregates waits behind them: it is claimable
    now, and the relays (who were not told when it was appended) should be woken.
    """
    followed = await conn.fetchval(_MARK_SENT, list(ids))
    return bool(followed)


async def release(conn: Connection, ids: Sequence[UUID]) -> None:
    """Hand rows ``append`` reserved, whose publish failed, to the relays at once.

    The relays retry them with backoff (see ``defer``); without this they would wait out the
    reservation. A row already sent is left alone.
    """
    await conn.execute(
        "UPDATE warren_outbox SET next_attempt_at = NULL"
        " WHERE id = ANY($1::uuid[]) AND sent_at IS NULL AND attempts = 0",
        list(ids),
    )


async def defer(
    conn: Connection,
    failures: Sequence[tuple[UUID, str]],
    *,
    first_delay: float = 0.2,
    max_delay: float = 30.0,
) -> float | None:
    """Put off the next attempt of rows whose publish failed; seconds until the first is due.

    ``failures`` pairs a row id with the error, kept in ``last_error`` for an operator. A row's
    delay doubles with each failure, from ``first_delay`` up to ``max_delay`` seconds. The backoff
    lives in the row, so every relay honours it, and it holds back that row's aggregate only.
    Returns None when no row was deferred.
    """
    if not failures:
        return None
    due = await conn.fetchval(
        _DEFER,
        [row_id for row_id, _ in failures],
        [error for _, error in failures],
        first_delay,
        max_delay,
    )
    return None if due is None else max(float(due), 0.0)


async def pending(conn: Connection) -> tuple[int, float]:
    """How many messages wait to be published, and the age in seconds of the oldest (0 if none)."""
    row = await conn.fetchrow(
        """
        SELECT count(*) AS waiting,
               coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8 AS age
        FROM warren_outbox WHERE sent_at IS NULL
        """
    )
    if row is None:  # cannot happen: an aggregate without GROUP BY returns one row
        return 0, 0.0
    return int(row["waiting"]), float(row["age"])


async def purge_sent(conn: Connection, older_than: timedelta) -> int:
    """Delete messages published more than ``older_than`` ago; return how many were deleted."""
    status = await conn.execute(
        "DELETE FROM warren_outbox WHERE sent_at < now() - $1::interval", older_than
    )
    return int(status.split()[-1])
