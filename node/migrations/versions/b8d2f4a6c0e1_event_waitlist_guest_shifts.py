"""event waitlist for events without shifts; guests on shifts

Revision ID: b8d2f4a6c0e1
Revises: c1e5a9d3b7f0
Create Date: 2026-12-06 19:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b8d2f4a6c0e1'
down_revision = 'c1e5a9d3b7f0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('event_waitlist',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('guest_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_event_waitlist_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['guest_id'], ['guest_rsvp.id'], name=op.f('fk_event_waitlist_guest_id_guest_rsvp'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_event_waitlist_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_waitlist')),
    sa.UniqueConstraint('event_id', 'member_id', name='uq_event_waitlist_event_member'),
    sa.UniqueConstraint('guest_id', name=op.f('uq_event_waitlist_guest_id'))
    )
    with op.batch_alter_table('event_waitlist', schema=None) as batch_op:
        batch_op.create_index('ix_event_waitlist_event_created', ['event_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_waitlist_member_id'), ['member_id'], unique=False)

    with op.batch_alter_table('shift_signup', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guest_id', sa.Integer(), nullable=True))
        batch_op.alter_column('member_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f('ix_shift_signup_guest_id'), ['guest_id'], unique=False)
        batch_op.create_unique_constraint('uq_shift_signup_shift_guest', ['shift_id', 'guest_id'])
        batch_op.create_foreign_key(batch_op.f('fk_shift_signup_guest_id_guest_rsvp'), 'guest_rsvp', ['guest_id'], ['id'], ondelete='CASCADE')


def downgrade():
    op.execute('DELETE FROM shift_signup WHERE member_id IS NULL')
    with op.batch_alter_table('shift_signup', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_shift_signup_guest_id_guest_rsvp'), type_='foreignkey')
        batch_op.drop_constraint('uq_shift_signup_shift_guest', type_='unique')
        batch_op.drop_index(batch_op.f('ix_shift_signup_guest_id'))
        batch_op.alter_column('member_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('guest_id')

    with op.batch_alter_table('event_waitlist', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_waitlist_member_id'))
        batch_op.drop_index('ix_event_waitlist_event_created')

    op.drop_table('event_waitlist')
