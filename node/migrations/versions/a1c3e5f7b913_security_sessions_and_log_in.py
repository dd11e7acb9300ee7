"""sessions revoked on the server, log-in failures, single-use invitations

Revision ID: a1c3e5f7b913
Revises: f8b0d2e4a659
Create Date: 2026-12-06 04:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c3e5f7b913'
down_revision = 'f8b0d2e4a659'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
