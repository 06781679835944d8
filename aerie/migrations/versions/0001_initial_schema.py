"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 00:35:01.854412
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _exact(length: int) -> sa.types.TypeEngine[str]:
    """Byte-for-byte comparison: keys, ids and names are case-sensitive."""
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def upgrade() -> None:
    op.create_table('stat_days',
    sa.Column('stat_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('bucket', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('sum', sa.Double(), nullable=False),
    sa.Column('min', sa.Double(), nullable=False),
    sa.Column('max', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('stat_id', 'bucket', name=op.f('pk_stat_days'))
    )
    op.create_table('stat_hours',
    sa.Column('stat_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('bucket', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('sum', sa.Double(), nullable=False),
    sa.Column('min', sa.Double(), nullable=False),
    sa.Column('max', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('stat_id', 'bucket', name=op.f('pk_stat_hours'))
    )
    op.create_table('stat_minutes',
    sa.Column('stat_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('bucket', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('sum', sa.Double(), nullable=False),
    sa.Column('min', sa.Double(), nullable=False),
    sa.Column('max', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('stat_id', 'bucket', name=op.f('pk_stat_minutes'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('email', _exact(255), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('ezkey', _exact(255), nullable=False),
    sa.Column('ez_enabled', sa.Boolean(), nullable=False),
    sa.Column('ukey', _exact(64), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email')),
    sa.UniqueConstraint('ezkey', name=op.f('uq_users_ezkey')),
    sa.UniqueConstraint('ukey', name=op.f('uq_users_ukey'))
    )
    op.create_table('access_tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', _exact(64), nullable=False),
    sa.Column('prefix', sa.String(length=8), nullable=False),
    sa.Column('label', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_access_tokens_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_access_tokens_token_hash'))
    )
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('stats',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('public_id', _exact(16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', _exact(255), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('classic_key', _exact(64), nullable=False),
    sa.Column('embed_key', _exact(64), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('data_received_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_stats_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats')),
    sa.UniqueConstraint('classic_key', name=op.f('uq_stats_classic_key')),
    sa.UniqueConstraint('embed_key', name=op.f('uq_stats_embed_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_stats_public_id')),
    sa.UniqueConstraint('user_id', 'name', name='uq_stats_user_id_name')
    )


def downgrade() -> None:
    op.drop_table('stats')
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_tokens_user_id'))

    op.drop_table('access_tokens')
    op.drop_table('users')
    op.drop_table('stat_minutes')
    op.drop_table('stat_hours')
    op.drop_table('stat_days')
