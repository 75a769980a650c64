"""Retention on real PostgreSQL: old sent outbox rows and old inbox entries go, unsent rows stay."""

from __future__ import annotations

import uuid
from datetime import timedelta

from warren import db
from warren.db import inbox, outbox
from warren.runtime._housekeeping import Housekeeping


async def test_purges_old_sent_rows_and_inbox_entries_but_never_unsent_rows(database_url) -> None:
    database = await db.Database.open(database_url)
    try:
        async with database.transaction() as conn:
            records = [
                outbox.OutboxRecord(
                    uuid.uuid4(), "order-1", "orders.events", "order.placed.v1", b"{}"
                )
                for _ in range(3)
            ]
            await outbox.append(conn, records)
            await outbox.mark_sent(conn, [records[0].id, records[1].id])
            await inbox.record(conn, "orders.saga", "message-1")
        await database.pool.execute(
            "UPDATE warren_outbox SET created_at = now() - interval '10 days', "
            "sent_at = CASE WHEN sent_at IS NULL THEN NULL ELSE now() - interval '9 days' END"
        )
        await database.pool.execute(
            "UPDATE warren_inbox SET received_at = now() - interval '9 days'"
        )
        async with database.transaction() as conn:
            await inbox.record(conn, "orders.saga", "message-2")  # recent: stays

        purged = await Housekeeping(database, timedelta(days=7), 3600).purge_once()

        assert purged == (2, 1)
        assert await database.pool.fetchval("SELECT count(*) FROM warren_outbox") == 1
        assert (
            await database.pool.fetchval("SELECT count(*) FROM warren_outbox WHERE sent_at IS NULL")
            == 1
        )
        assert await database.pool.fetchval("SELECT message_id FROM warren_inbox") == "message-2"
    finally:
        await database.close()
