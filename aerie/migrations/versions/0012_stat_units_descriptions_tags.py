"""stat descriptions and tags (units already have a column)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stats') as batch:
        batch.add_column(sa.Column('description', sa.String(length=1000), server_default='',
                                   nullable=False))
    op.create_table('stat_tags',
    sa.Column('stat_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=64).with_variant(mysql.VARCHAR(charset='utf8mb4', collation='utf8mb4_bin', length=64), 'mysql').with_variant(mysql.VARCHAR(charset='utf8mb4', collation='utf8mb4_bin', length=64), 'mariadb'), nullable=False),
    sa.ForeignKeyConstraint(['stat_id'], ['stats.id'], name=op.f('fk_stat_tags_stat_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('stat_id', 'tag', name=op.f('pk_stat_tags'))
    )
    op.create_index(op.f('ix_stat_tags_tag'), 'stat_tags', ['tag'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_stat_tags_tag'), table_name='stat_tags')
    op.drop_table('stat_tags')
    with op.batch_alter_table('stats') as batch:
        batch.drop_column('description')
