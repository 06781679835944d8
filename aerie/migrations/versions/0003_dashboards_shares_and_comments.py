"""dashboards, embed keys (shares) and comments; stats lose their never-used embed_key

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _exact(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def upgrade() -> None:
    op.create_table('dashboards',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('public_id', _exact(16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_dashboards_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dashboards')),
    sa.UniqueConstraint('public_id', name=op.f('uq_dashboards_public_id'))
    )
    with op.batch_alter_table('dashboards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboards_user_id'), ['user_id'], unique=False)

    op.create_table('comments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('stat_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('text', sa.String(length=1000), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['stat_id'], ['stats.id'], name=op.f('fk_comments_stat_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_comments_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comments'))
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comments_stat_id'), ['stat_id', 'at'], unique=False)

    op.create_table('dashboard_cards',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dashboard_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('timeframe', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['dashboard_id'], ['dashboards.id'], name=op.f('fk_dashboard_cards_dashboard_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dashboard_cards'))
    )
    with op.batch_alter_table('dashboard_cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_cards_dashboard_id'), ['dashboard_id', 'position'], unique=False)

    op.create_table('shares',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', _exact(32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('stat_id', sa.Integer(), nullable=True),
    sa.Column('dashboard_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['dashboard_id'], ['dashboards.id'], name=op.f('fk_shares_dashboard_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['stat_id'], ['stats.id'], name=op.f('fk_shares_stat_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_shares_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shares')),
    sa.UniqueConstraint('key', name=op.f('uq_shares_key'))
    )
    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shares_dashboard_id'), ['dashboard_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shares_stat_id'), ['stat_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shares_user_id'), ['user_id'], unique=False)

    op.create_table('card_stats',
    sa.Column('card_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('stat_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['dashboard_cards.id'], name=op.f('fk_card_stats_card_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['stat_id'], ['stats.id'], name=op.f('fk_card_stats_stat_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('card_id', 'position', name=op.f('pk_card_stats'))
    )
    with op.batch_alter_table('card_stats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_stats_stat_id'), ['stat_id'], unique=False)

    with op.batch_alter_table('stats', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_stats_embed_key'), type_='unique')
        batch_op.drop_column('embed_key')


def downgrade() -> None:
    with op.batch_alter_table('stats', schema=None) as batch_op:
        batch_op.add_column(sa.Column('embed_key', _exact(64), nullable=True))

    with op.batch_alter_table('card_stats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_stats_stat_id'))

    op.drop_table('card_stats')
    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shares_user_id'))
        batch_op.drop_index(batch_op.f('ix_shares_stat_id'))
        batch_op.drop_index(batch_op.f('ix_shares_dashboard_id'))

    op.drop_table('shares')
    with op.batch_alter_table('dashboard_cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dashboard_cards_dashboard_id'))

    op.drop_table('dashboard_cards')
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comments_stat_id'))

    op.drop_table('comments')
    with op.batch_alter_table('dashboards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dashboards_user_id'))

    op.drop_table('dashboards')
