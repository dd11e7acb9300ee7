"""sealed ballots: tellers, the ballot key's public half, sealed papers and trackers, opened papers

Revision ID: d4f6b8c0e246
Revises: c3e5a7b9d135
Create Date: 2026-12-06 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4f6b8c0e246'
down_revision = 'c3e5a7b9d135'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
