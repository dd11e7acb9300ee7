"""block list: blocked actors and domains, with who blocked them and why

Revision ID: e3b1c5d7a9f2
Revises: e1d3a5c7f960
Create Date: 2026-12-06 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e3b1c5d7a9f2'
down_revision = 'e1d3a5c7f960'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('peer_block',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=2000), nullable=False),
    sa.Column('reject_media', sa.Boolean(), nullable=False),
    sa.Column('reject_reports', sa.Boolean(), nullable=False),
    sa.Column('obfuscate', sa.Boolean(), nullable=False),
    sa.Column('public_comment', sa.Text(), nullable=False),
    sa.Column('private_comment', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=400), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['member.id'], name=op.f('fk_peer_block_created_by_id_member'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_peer_block')),
    sa.UniqueConstraint('target', name=op.f('uq_peer_block_target'))
    )


def downgrade():
    op.drop_table('peer_block')
