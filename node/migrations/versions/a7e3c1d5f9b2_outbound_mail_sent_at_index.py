"""outbound mail: index sent_at, for the mail rate limit's count of the last minute

Revision ID: a7e3c1d5f9b2
Revises: d4a5c7e9f1b3
Create Date: 2026-12-06 15:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a7e3c1d5f9b2'
down_revision = 'd4a5c7e9f1b3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbound_mail', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbound_mail_sent_at'), ['sent_at'], unique=False)


def downgrade():
    with op.batch_alter_table('outbound_mail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_mail_sent_at'))
