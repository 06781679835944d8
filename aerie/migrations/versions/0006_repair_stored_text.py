"""repair text stored before control and bidi characters were refused

Revision ID: 0006
Revises: 0005

Names, titles, comments and labels stored before aerie.text_rules existed may
hold line breaks, NUL, escapes, bidi overrides or nothing visible; a stat
named ``x\\r\\nBcc: y`` stopped every mail. Each refused character becomes a
space, runs of whitespace become one, and text with nothing visible left
becomes U+FFFD. The rows and their data stay; a repaired stat name that a
stat of the same owner already carries gets a suffix `` (2)``, `` (3)``...
Data only: the schema does not change, and there is nothing to undo.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from aerie.text_rules import is_storable, replace_refused

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

NOTHING_VISIBLE = "\ufffd"
MAX_STAT_NAME = 255
# (table, text column, its length); stats.name is repaired on its own, keeping names unique.
_FREE_TEXT = (
    ("dashboards", "name", 255),
    ("dashboard_cards", "title", 255),
    ("comments", "text", 1000),
    ("access_tokens", "label", 255),
    ("alert_events", "message", 500),
    ("outbox", "subject", 255),
)


def repaired(text: str) -> str:
    """``text`` with refused characters as spaces, whitespace runs as one, and ends stripped."""
    text = " ".join(replace_refused(text).split())
    return text if text and is_storable(text) else NOTHING_VISIBLE


def upgrade() -> None:
    conn = op.get_bind()
    for name, column, length in _FREE_TEXT:
        table = sa.table(name, sa.column("id", sa.Integer), sa.column(column, sa.String(length)))
        for row_id, text in _rows(conn, table, table.c[column]):
            if text and not is_storable(text):
                conn.execute(sa.update(table).where(table.c.id == row_id)
                             .values({column: repaired(text)[:length]}))
    _repair_stat_names(conn)


def _rows(conn: sa.Connection, table: sa.TableClause, *columns: sa.ColumnClause[object],
          page: int = 1000) -> Iterator[tuple[Any, ...]]:
    """Every row's id and ``columns``, a page at a time: tables may be too big to hold."""
    last = 0
    while True:
        rows = conn.execute(sa.select(table.c.id, *columns).where(table.c.id > last)
                            .order_by(table.c.id).limit(page)).fetchall()
        yield from (tuple(row) for row in rows)
        if len(rows) < page:
            return
        last = rows[-1][0]


def _repair_stat_names(conn: sa.Connection) -> None:
    """Stat names, each owner's names kept unique (trashed stats keep theirs too)."""
    stats = sa.table("stats", sa.column("id", sa.Integer), sa.column("user_id", sa.Integer),
                     sa.column("name", sa.String(MAX_STAT_NAME)))
    broken = [(stat_id, user_id, name)
              for stat_id, user_id, name in _rows(conn, stats, stats.c.user_id, stats.c.name)
              if not (is_storable(name) and name.strip())]
    # MariaDB's collations pad with spaces: "a" and "a " are one name to its unique index.
    taken = {(user_id, name.rstrip(" ")) for user_id, name in conn.execute(
        sa.select(stats.c.user_id, stats.c.name)
        .where(stats.c.user_id.in_({user_id for _id, user_id, _name in broken})))}
    for stat_id, user_id, name in broken:
        base = repaired(name)
        fixed, suffix = base, 1
        while (user_id, fixed.rstrip(" ")) in taken:
            suffix += 1
            tail = f" ({suffix})"
            fixed = base[:MAX_STAT_NAME - len(tail)] + tail
        taken.add((user_id, fixed.rstrip(" ")))
        conn.execute(sa.update(stats).where(stats.c.id == stat_id).values(name=fixed))


def downgrade() -> None:
    pass  # the characters removed are not worth putting back
