"""mail notices: which notices, reminders and digests the worker has queued

Revision ID: b8f2d4a6c0e3
Revises: c2e4a6b8d0f1
Create Date: 2026-12-06 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b8f2d4a6c0e3'
down_revision = 'c2e4a6b8d0f1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mail_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_notice')),
    sa.UniqueConstraint('key', name=op.f('uq_mail_notice_key'))
    )


def downgrade():
    op.drop_table('mail_notice')
