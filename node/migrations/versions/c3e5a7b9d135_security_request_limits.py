"""shared request limits

Revision ID: c3e5a7b9d135
Revises: b2d4f6a8c924
Create Date: 2026-12-06 04:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3e5a7b9d135'
down_revision = 'b2d4f6a8c924'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('request_counts',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_request_counts'))
    )
    with op.batch_alter_table('request_counts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_counts_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('request_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_counts_expires_at'))

    op.drop_table('request_counts')
