"""alert events name their mail, so the history shows its real delivery status

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alert_events') as batch:
        batch.add_column(sa.Column('mail_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_alert_events_mail_id'), 'alert_events', ['mail_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_alert_events_mail_id'), table_name='alert_events')
    with op.batch_alter_table('alert_events') as batch:
        batch.drop_column('mail_id')
