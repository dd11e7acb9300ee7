"""peer: consecutive failed contacts, so a peer that stays down is marked unreachable

Revision ID: b7d2e4f1a9c3
Revises: 68a3da2f4b17
Create Date: 2026-11-22 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d2e4f1a9c3'
down_revision = '68a3da2f4b17'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('peer', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('contact_failures', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('peer', schema=None) as batch_op:
        batch_op.drop_column('contact_failures')
