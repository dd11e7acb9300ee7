"""a group's objects by type and time: replaces the index on peer_id alone

Revision ID: d4f6a8c0e2b5
Revises: b8d2f4a6c0e1
Create Date: 2026-12-07 03:20:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd4f6a8c0e2b5'
down_revision = 'b8d2f4a6c0e1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('remote_object', schema=None) as batch_op:
        batch_op.create_index(
            'ix_remote_object_peer_id_object_type_starts_at',
            ['peer_id', 'object_type', 'starts_at', 'id'],
            unique=False,
            postgresql_include=['deleted', 'status'],
        )
        batch_op.drop_index('ix_remote_object_peer_id')


def downgrade():
    with op.batch_alter_table('remote_object', schema=None) as batch_op:
        batch_op.create_index('ix_remote_object_peer_id', ['peer_id'], unique=False)
        batch_op.drop_index('ix_remote_object_peer_id_object_type_starts_at')
