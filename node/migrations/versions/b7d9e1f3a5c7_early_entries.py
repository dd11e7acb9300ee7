"""early entries: feed entries a peer pushed ahead of a gap, kept until it fills

Revision ID: b7d9e1f3a5c7
Revises: 5ea7b1c9d3f0
Create Date: 2026-12-06 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d9e1f3a5c7'
down_revision = "5ea7b1c9d3f0"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('early_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['peer_id'], ['peer.id'], name=op.f('fk_early_entry_peer_id_peer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_early_entry')),
    sa.UniqueConstraint('peer_id', 'seq', name='uq_early_entry_peer_seq')
    )


def downgrade():
    op.drop_table('early_entry')
