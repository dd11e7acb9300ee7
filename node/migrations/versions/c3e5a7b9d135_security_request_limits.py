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
    pass


def downgrade():
    pass
