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

import sqlalchemy as sa
from alembic import op

from aerie.text_rules import is_storable, refused

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
    text = " ".join("".join(" " if refused(char) else char for char in text).split())
    return text if text and is_storable(text) else NOTHING_VISIBLE


def upgrade() -> None:
    conn = op.get_bind()
    for name, column, length in _FREE_TEXT:
        table = sa.table(name, sa.column("id", sa.Integer), sa.column(column, sa.String(length)))
        for row_id, text in conn.execute(sa.select(table.c.id, table.c[column])).fetchall():
            if text and not is_storable(text):
                conn.execute(sa.update(table).where(table.c.id == row_id)
                             .values({column: repaired(text)[:length]}))
    _repair_stat_names(conn)


def _repair_stat_names(conn: sa.Connection) -> None:
    """Stat names, each owner's names kept unique (trashed stats keep theirs too)."""
    stats = sa.table("stats", sa.column("id", sa.Integer), sa.column("user_id", sa.Integer),
                     sa.column("name", sa.String(MAX_STAT_NAME)))
    rows = conn.execute(sa.select(stats.c.id, stats.c.user_id, stats.c.name)).fetchall()
    # MariaDB's collations pad with spaces: "a" and "a " are one name to its unique index.
    taken = {(user_id, name.rstrip(" ")) for _id, user_id, name in rows}
    for stat_id, user_id, name in rows:
        if is_storable(name) and name.strip():
            continue
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
