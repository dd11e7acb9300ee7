"""who has voted outlives membership

Revision ID: b2d4f6a8c924
Revises: a1c3e5f7b913
Create Date: 2026-12-06 04:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b2d4f6a8c924'
down_revision = 'a1c3e5f7b913'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
