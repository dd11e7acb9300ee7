"""group profile: when an admin put the after-setup checklist away

Revision ID: c1e5a9d3b7f0
Revises: c9d1e3f5a7b8
Create Date: 2026-12-06 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c1e5a9d3b7f0'
down_revision = 'c9d1e3f5a7b8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('group_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checklist_dismissed_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('group_profile', schema=None) as batch_op:
        batch_op.drop_column('checklist_dismissed_at')
