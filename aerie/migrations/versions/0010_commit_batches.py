"""commit batches: each group commit's id, so a commit whose answer was lost can be looked up

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('commit_batches',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('committed_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commit_batches'))
    )
    op.create_index(op.f('ix_commit_batches_committed_at'), 'commit_batches', ['committed_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_commit_batches_committed_at'), table_name='commit_batches')
    op.drop_table('commit_batches')
