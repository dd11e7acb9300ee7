"""aggregator: the directory of groups an aggregator follows and re-serves

Revision ID: d5e8a2c4b611
Revises: b7d2e4f1a9c3
Create Date: 2026-11-22 03:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd5e8a2c4b611'
down_revision = 'b7d2e4f1a9c3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('group_profile', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('role', sa.String(length=20), server_default='group', nullable=False)
        )

    op.create_table('aggregate_listing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('via_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('proof_keys', sa.Text(), nullable=False),
    sa.Column('key_changed_at', sa.DateTime(), nullable=True),
    sa.Column('served_seq', sa.Integer(), nullable=False),
    sa.Column('served_hash', sa.String(length=80), nullable=False),
    sa.Column('feed_url', sa.String(length=2000), nullable=False),
    sa.Column('cursor', sa.String(length=100), nullable=False),
    sa.Column('next_pull_at', sa.DateTime(), nullable=True),
    sa.Column('last_pulled_at', sa.DateTime(), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=True),
    sa.Column('listed_at', sa.DateTime(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['peer_id'], ['peer.id'], name=op.f('fk_aggregate_listing_peer_id_peer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['via_id'], ['aggregate_listing.id'], name=op.f('fk_aggregate_listing_via_id_aggregate_listing'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aggregate_listing')),
    sa.UniqueConstraint('peer_id', name=op.f('uq_aggregate_listing_peer_id'))
    )
    with op.batch_alter_table('aggregate_listing', schema=None) as batch_op:
        batch_op.create_index('ix_aggregate_listing_state_kind', ['state', 'kind'], unique=False)

    op.create_table('combined_entry',
    sa.Column('cursor', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('remote_entry_id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('served_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['listing_id'], ['aggregate_listing.id'], name=op.f('fk_combined_entry_listing_id_aggregate_listing'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['remote_entry_id'], ['remote_entry.id'], name=op.f('fk_combined_entry_remote_entry_id_remote_entry'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cursor', name=op.f('pk_combined_entry')),
    sa.UniqueConstraint('remote_entry_id', name=op.f('uq_combined_entry_remote_entry_id'))
    )
    with op.batch_alter_table('combined_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_combined_entry_listing_id'), ['listing_id'], unique=False)

    state = op.create_table('combined_feed_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_cursor', sa.Integer(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_combined_feed_state'))
    )
    # The one row whose lock orders the writers of the combined feed.
    op.bulk_insert(state, [{'id': 1, 'last_cursor': 0, 'entries': 0}])

    op.create_table('quarantined_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('via_peer_id', sa.Integer(), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_hash', sa.String(length=80), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('times_seen', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['peer_id'], ['peer.id'], name=op.f('fk_quarantined_entry_peer_id_peer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['via_peer_id'], ['peer.id'], name=op.f('fk_quarantined_entry_via_peer_id_peer'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantined_entry')),
    sa.UniqueConstraint('peer_id', 'body_hash', name='uq_quarantined_entry_peer_body')
    )
    with op.batch_alter_table('quarantined_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantined_entry_peer_id'), ['peer_id'], unique=False)


def downgrade():
    with op.batch_alter_table('quarantined_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantined_entry_peer_id'))

    op.drop_table('quarantined_entry')
    op.drop_table('combined_feed_state')
    with op.batch_alter_table('combined_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_combined_entry_listing_id'))

    op.drop_table('combined_entry')
    with op.batch_alter_table('aggregate_listing', schema=None) as batch_op:
        batch_op.drop_index('ix_aggregate_listing_state_kind')

    op.drop_table('aggregate_listing')
    with op.batch_alter_table('group_profile', schema=None) as batch_op:
        batch_op.drop_column('role')
