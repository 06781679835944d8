"""alerts, reports and new-stat notices

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _exact(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('public_id', _exact(16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('stat_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('time_window', sa.String(length=4), nullable=False),
    sa.Column('operator', sa.String(length=16), nullable=True),
    sa.Column('threshold', sa.Double(), nullable=True),
    sa.Column('percentage', sa.Double(), nullable=True),
    sa.Column('time_delta', sa.String(length=4), nullable=True),
    sa.Column('repeat_minutes', sa.Integer(), nullable=False),
    sa.Column('email', sa.Boolean(), nullable=False),
    sa.Column('webhook_url', sa.String(length=1000), nullable=True),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('state_since', sa.BigInteger(), nullable=False),
    sa.Column('last_value', sa.Double(), nullable=True),
    sa.Column('last_evaluated_at', sa.BigInteger(), nullable=True),
    sa.Column('last_notified_at', sa.BigInteger(), nullable=True),
    sa.Column('silenced_until', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['stat_id'], ['stats.id'], name=op.f('fk_alerts_stat_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_alerts_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('public_id', name=op.f('uq_alerts_public_id'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_stat_id'), ['stat_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_user_id'), ['user_id'], unique=False)

    op.create_table('new_stat_notices',
    sa.Column('stat_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['stat_id'], ['stats.id'], name=op.f('fk_new_stat_notices_stat_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_new_stat_notices_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('stat_id', name=op.f('pk_new_stat_notices'))
    )
    with op.batch_alter_table('new_stat_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_new_stat_notices_user_id'), ['user_id'], unique=False)

    op.create_table('report_stats',
    sa.Column('user_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('stat_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.ForeignKeyConstraint(['stat_id'], ['stats.id'], name=op.f('fk_report_stats_stat_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_report_stats_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'stat_id', name=op.f('pk_report_stats'))
    )
    op.create_table('alert_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('event', sa.String(length=10), nullable=False),
    sa.Column('value', sa.Double(), nullable=True),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('email_status', sa.String(length=32), nullable=True),
    sa.Column('webhook_status', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_events_alert_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_events'))
    )
    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_events_alert_id'), ['alert_id', 'at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_hour', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('report_sent_for', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('digest_sent_at', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('digest_sent_at')
        batch_op.drop_column('report_sent_for')
        batch_op.drop_column('report_hour')

    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_events_alert_id'))

    op.drop_table('alert_events')
    op.drop_table('report_stats')
    with op.batch_alter_table('new_stat_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_new_stat_notices_user_id'))

    op.drop_table('new_stat_notices')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_user_id'))
        batch_op.drop_index(batch_op.f('ix_alerts_stat_id'))

    op.drop_table('alerts')