"""carpools: seats offered and asked for, and matches

Revision ID: f8b0d2e4a659
Revises: e7a9c1d3f548
Create Date: 2026-12-04 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f8b0d2e4a659'
down_revision = 'e7a9c1d3f548'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('carpool_offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('from_place', sa.String(length=120), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_carpool_offer_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_carpool_offer_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carpool_offer')),
    sa.UniqueConstraint('event_id', 'member_id', name='uq_carpool_offer_event_member')
    )
    with op.batch_alter_table('carpool_offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_carpool_offer_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_carpool_offer_member_id'), ['member_id'], unique=False)

    op.create_table('carpool_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('from_place', sa.String(length=120), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=True),
    sa.Column('matched_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_carpool_request_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_carpool_request_member_id_member'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['offer_id'], ['carpool_offer.id'], name=op.f('fk_carpool_request_offer_id_carpool_offer'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carpool_request')),
    sa.UniqueConstraint('event_id', 'member_id', name='uq_carpool_request_event_member')
    )
    with op.batch_alter_table('carpool_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_carpool_request_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_carpool_request_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_carpool_request_offer_id'), ['offer_id'], unique=False)


def downgrade():
    with op.batch_alter_table('carpool_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_carpool_request_offer_id'))
        batch_op.drop_index(batch_op.f('ix_carpool_request_member_id'))
        batch_op.drop_index(batch_op.f('ix_carpool_request_event_id'))

    op.drop_table('carpool_request')
    with op.batch_alter_table('carpool_offer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_carpool_offer_member_id'))
        batch_op.drop_index(batch_op.f('ix_carpool_offer_event_id'))

    op.drop_table('carpool_offer')
