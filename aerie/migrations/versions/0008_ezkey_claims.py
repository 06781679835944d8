"""ezkey claims: every ezkey an account has held stays reserved to it

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ezkey_claims',
    sa.Column('ezkey', sa.String(length=255).with_variant(mysql.VARCHAR(charset='utf8mb4', collation='utf8mb4_bin', length=255), 'mysql').with_variant(mysql.VARCHAR(charset='utf8mb4', collation='utf8mb4_bin', length=255), 'mariadb'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('claimed_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ezkey_claims_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ezkey', name=op.f('pk_ezkey_claims'))
    )
    op.create_index(op.f('ix_ezkey_claims_user_id'), 'ezkey_claims', ['user_id'], unique=False)
    # Every live ezkey is its account's claim from now on.
    op.execute(
        "INSERT INTO ezkey_claims (ezkey, user_id, claimed_at) "
        "SELECT ezkey, id, created_at FROM users"
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_ezkey_claims_user_id'), table_name='ezkey_claims')
    op.drop_table('ezkey_claims')
