"""the Aerie health dashboard's cards on six hours, as new installs create them

Revision ID: 0013
Revises: 0012

The system account's "Aerie health" dashboard now opens on 6 hours
(``aerie.health_dashboard.TIMEFRAME``), but installs that created it before keep
their cards on the old default, a day. Those cards move to 6 hours; a card on
any other timeframe was changed by someone and stays, as do other dashboards and
other accounts' dashboards named "Aerie health". The values are written out here,
not imported: a migration means what it meant when it was written.
Data only: the schema does not change, and there is nothing to undo (a card on a
day before could be told from one set to a day since only by guessing).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

HEALTH_DASHBOARD = "Aerie health"
OLD_TIMEFRAME, NEW_TIMEFRAME = "1d", "6h"

_users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String(255)))
_dashboards = sa.table("dashboards", sa.column("id", sa.Integer),
                       sa.column("user_id", sa.Integer), sa.column("name", sa.String(255)))
_cards = sa.table("dashboard_cards", sa.column("dashboard_id", sa.Integer),
                  sa.column("timeframe", sa.String(16)))


def upgrade() -> None:
    system = sa.select(_users.c.id).where(
        _users.c.email == context.config.attributes["system_email"])
    health = sa.select(_dashboards.c.id).where(
        _dashboards.c.user_id.in_(system), _dashboards.c.name == HEALTH_DASHBOARD)
    op.get_bind().execute(
        sa.update(_cards)
        .where(_cards.c.dashboard_id.in_(health), _cards.c.timeframe == OLD_TIMEFRAME)
        .values(timeframe=NEW_TIMEFRAME)
    )


def downgrade() -> None:
    pass
