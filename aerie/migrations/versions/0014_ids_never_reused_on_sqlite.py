"""SQLite never gives a deleted account's or stat's id to a new one

Revision ID: 0014
Revises: 0013

Without AUTOINCREMENT, SQLite gives a new row the highest id plus one, so the id of
a deleted newest account or stat came back as the next one's. The API caches keys by
id for ``AERIE_KEY_CACHE_SECONDS``: a cached id could then name another account's
stat or account. ``users`` and ``stats`` are rebuilt with AUTOINCREMENT (their rows,
indexes and foreign keys kept; ``aerie.migrate`` turns foreign keys off around the
rebuild, so dropping the old table cascades nothing). MariaDB and MySQL never reuse
an AUTO_INCREMENT id: nothing to do there.
"""

from __future__ import annotations

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

TABLES = ("users", "stats")


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass
