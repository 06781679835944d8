"""Deleting an account and everything it holds, in one transaction.

Every table that names an account (``user_id``) loses the account's rows, and the
rows hanging off those (cards, alert events, webhook deliveries, comments) go with
them by their foreign keys' ON DELETE CASCADE. The rollup tables name stats, not
accounts, and have no foreign key (the ingestion writer's upserts stay cheap), so
they are emptied of the account's stats first. Sessions are rows too: deleting them
signs the account out of every browser.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from aerie.schema import ROLLUPS, metadata, stats, users


def remove_account(conn: Connection, user_id: int) -> bool:
    """Delete the account and all its data; False if there was no such account."""
    own_stats = select(stats.c.id).where(stats.c.user_id == user_id).scalar_subquery()
    for _resolution, table in ROLLUPS:
        conn.execute(delete(table).where(table.c.stat_id.in_(own_stats)))
    for table in reversed(metadata.sorted_tables):  # children before their parents
        if "user_id" in table.c and table is not users:
            conn.execute(delete(table).where(table.c.user_id == user_id))
    return conn.execute(delete(users).where(users.c.id == user_id)).rowcount == 1
