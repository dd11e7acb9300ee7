"""twinning: twin proposals between groups, RSVPs from twinned groups' members, attendance

Revision ID: f2c4e6a8b933
Revises: e7f1b3d5c822
Create Date: 2026-11-22 03:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f2c4e6a8b933'
down_revision = 'e7f1b3d5c822'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attended_count', sa.Integer(), nullable=True))

    op.create_table('twinning',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('relationship_id', sa.String(length=2000), nullable=False),
    sa.Column('offer_activity_id', sa.String(length=2000), nullable=False),
    sa.Column('answer_activity_id', sa.String(length=2000), nullable=True),
    sa.Column('end_activity_id', sa.String(length=2000), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('proposed_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('proposed_at', sa.DateTime(), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['answered_by_id'], ['member.id'], name=op.f('fk_twinning_answered_by_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['peer_id'], ['peer.id'], name=op.f('fk_twinning_peer_id_peer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['member.id'], name=op.f('fk_twinning_proposed_by_id_member'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_twinning')),
    sa.UniqueConstraint('peer_id', name='uq_twinning_peer')
    )
    with op.batch_alter_table('twinning', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_twinning_offer_activity_id'), ['offer_activity_id'], unique=False)

    op.create_table('remote_rsvp',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('rsvp_id', sa.String(length=2000), nullable=False),
    sa.Column('activity_id', sa.String(length=2000), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('response', sa.String(length=16), nullable=False),
    sa.Column('party_size', sa.Integer(), nullable=False),
    sa.Column('shared_name', sa.String(length=80), nullable=True),
    sa.Column('places', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_remote_rsvp_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['peer_id'], ['peer.id'], name=op.f('fk_remote_rsvp_peer_id_peer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remote_rsvp')),
    sa.UniqueConstraint('rsvp_id', name=op.f('uq_remote_rsvp_rsvp_id'))
    )
    with op.batch_alter_table('remote_rsvp', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remote_rsvp_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_remote_rsvp_peer_id'), ['peer_id'], unique=False)

    op.create_table('outgoing_rsvp',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('event_object_id', sa.String(length=2000), nullable=False),
    sa.Column('rsvp_id', sa.String(length=2000), nullable=False),
    sa.Column('activity_id', sa.String(length=2000), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('response', sa.String(length=16), nullable=False),
    sa.Column('party_size', sa.Integer(), nullable=False),
    sa.Column('share_name', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('confirmed_response', sa.String(length=16), nullable=True),
    sa.Column('confirmed_party_size', sa.Integer(), nullable=True),
    sa.Column('refusal', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_outgoing_rsvp_member_id_member'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['peer_id'], ['peer.id'], name=op.f('fk_outgoing_rsvp_peer_id_peer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_rsvp')),
    sa.UniqueConstraint('member_id', 'event_object_id', name='uq_outgoing_rsvp_member_event'),
    sa.UniqueConstraint('rsvp_id', name=op.f('uq_outgoing_rsvp_rsvp_id'))
    )
    with op.batch_alter_table('outgoing_rsvp', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outgoing_rsvp_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outgoing_rsvp_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outgoing_rsvp_peer_id'), ['peer_id'], unique=False)


def downgrade():
    with op.batch_alter_table('outgoing_rsvp', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outgoing_rsvp_peer_id'))
        batch_op.drop_index(batch_op.f('ix_outgoing_rsvp_member_id'))
        batch_op.drop_index(batch_op.f('ix_outgoing_rsvp_activity_id'))
    op.drop_table('outgoing_rsvp')

    with op.batch_alter_table('remote_rsvp', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remote_rsvp_peer_id'))
        batch_op.drop_index(batch_op.f('ix_remote_rsvp_event_id'))
    op.drop_table('remote_rsvp')

    with op.batch_alter_table('twinning', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_twinning_offer_activity_id'))
    op.drop_table('twinning')

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('attended_count')
