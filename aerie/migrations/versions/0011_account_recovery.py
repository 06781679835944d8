"""accounts: e-mail verification, one-use account links, limited requests, EZ sign-up

Revision ID: 0011
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0011'
down_revision = '0008'
branch_labels = None
depends_on = None


def _exact(length: int) -> sa.types.TypeEngine[str]:
    variant = mysql.VARCHAR(charset='utf8mb4', collation='utf8mb4_bin', length=length)
    return sa.String(length=length).with_variant(variant, 'mysql').with_variant(variant, 'mariadb')


def upgrade() -> None:
    op.add_column('users', sa.Column('email_verified_at', sa.BigInteger(), nullable=True))
    op.add_column('users', sa.Column('pending_until', sa.BigInteger(), nullable=True))
    op.create_index(op.f('ix_users_pending_until'), 'users', ['pending_until'], unique=False)
    # Accounts made before verification existed keep getting their mail.
    op.execute("UPDATE users SET email_verified_at = created_at")
    op.create_table('account_tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('token_hash', _exact(64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=8), nullable=False),
    sa.Column('email', _exact(255), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('used_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_tokens_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_account_tokens_token_hash'))
    )
    op.create_index(op.f('ix_account_tokens_user_id'), 'account_tokens', ['user_id'], unique=False)
    op.create_table('limited_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_limited_requests'))
    )
    op.create_index(op.f('ix_limited_requests_action'), 'limited_requests', ['action', 'subject', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_limited_requests_action'), table_name='limited_requests')
    op.drop_table('limited_requests')
    op.drop_index(op.f('ix_account_tokens_user_id'), table_name='account_tokens')
    op.drop_table('account_tokens')
    op.drop_index(op.f('ix_users_pending_until'), table_name='users')
    op.drop_column('users', 'pending_until')
    op.drop_column('users', 'email_verified_at')
