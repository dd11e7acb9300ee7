"""event attendees: RSVPs without an account, walk-ins and check-in

Revision ID: d6f8b0c2e437
Revises: c5e7a9b1d326
Create Date: 2026-12-11 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd6f8b0c2e437'
down_revision = 'c5e7a9b1d326'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('guest_rsvp',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('walk_in', sa.Boolean(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('mailed_at', sa.DateTime(), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_guest_rsvp_event_id_event'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guest_rsvp')),
    sa.UniqueConstraint('event_id', 'email', name='uq_guest_rsvp_event_email'),
    sa.UniqueConstraint('token_hash', name=op.f('uq_guest_rsvp_token_hash'))
    )
    with op.batch_alter_table('guest_rsvp', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guest_rsvp_event_id'), ['event_id'], unique=False)

    with op.batch_alter_table('rsvp', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_in_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('rsvp', schema=None) as batch_op:
        batch_op.drop_column('checked_in_at')

    with op.batch_alter_table('guest_rsvp', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guest_rsvp_event_id'))

    op.drop_table('guest_rsvp')
