"""event shifts: time slots inside an event, with places and a waitlist

Revision ID: c5e7a9b1d326
Revises: b4d6f8a0c215
Create Date: 2026-12-10 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5e7a9b1d326'
down_revision = 'b4d6f8a0c215'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('event_shift',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('going_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_event_shift_event_id_event'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_shift'))
    )
    with op.batch_alter_table('event_shift', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_shift_event_id'), ['event_id'], unique=False)

    op.create_table('shift_signup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_shift_signup_member_id_member'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shift_id'], ['event_shift.id'], name=op.f('fk_shift_signup_shift_id_event_shift'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift_signup')),
    sa.UniqueConstraint('shift_id', 'member_id', name='uq_shift_signup_shift_member')
    )
    with op.batch_alter_table('shift_signup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shift_signup_member_id'), ['member_id'], unique=False)
        # The waitlist is read in this order: earliest first.
        batch_op.create_index('ix_shift_signup_shift_state_created', ['shift_id', 'state', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('shift_signup', schema=None) as batch_op:
        batch_op.drop_index('ix_shift_signup_shift_state_created')
        batch_op.drop_index(batch_op.f('ix_shift_signup_member_id'))

    op.drop_table('shift_signup')
    with op.batch_alter_table('event_shift', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_shift_event_id'))

    op.drop_table('event_shift')
