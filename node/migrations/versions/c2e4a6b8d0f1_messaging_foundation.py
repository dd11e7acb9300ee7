"""messaging: mail kinds, HTML parts and sources; members' mail choices; address records

Revision ID: c2e4a6b8d0f1
Revises: b7d9e1f3a5c7
Create Date: 2026-12-06 14:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c2e4a6b8d0f1'
down_revision = 'b7d9e1f3a5c7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbound_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('html', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(
            sa.Column('kind', sa.String(length=32), nullable=False, server_default='account')
        )
        batch_op.add_column(sa.Column('member_id', sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column('source', sa.String(length=80), nullable=False, server_default='')
        )
        batch_op.create_index(batch_op.f('ix_outbound_mail_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_mail_source'), ['source'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_outbound_mail_member_id_member'), 'member', ['member_id'], ['id'],
            ondelete='SET NULL',
        )
    # The empty defaults were only for the rows already there.
    with op.batch_alter_table('outbound_mail', schema=None) as batch_op:
        batch_op.alter_column('html', server_default=None)
        batch_op.alter_column('source', server_default=None)

    op.create_table('mail_preference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('choice', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_mail_preference_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_preference')),
    sa.UniqueConstraint('member_id', 'kind', name='uq_mail_preference_member_kind')
    )
    with op.batch_alter_table('mail_preference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_preference_member_id'), ['member_id'], unique=False)

    op.create_table('mail_address',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('bounces', sa.Integer(), nullable=False),
    sa.Column('total_bounces', sa.Integer(), nullable=False),
    sa.Column('last_bounce_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.Column('suppressed_at', sa.DateTime(), nullable=True),
    sa.Column('stopped_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_address')),
    sa.UniqueConstraint('address', name=op.f('uq_mail_address_address'))
    )

    op.create_table('announcement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('audience', sa.String(length=32), nullable=False),
    sa.Column('audience_ref', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('send_at', sa.DateTime(), nullable=True),
    sa.Column('origin', sa.String(length=500), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('recipients', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['member.id'], name=op.f('fk_announcement_created_by_id_member'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_announcement'))
    )
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.create_index('ix_announcement_status_send_at', ['status', 'send_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_announcement_origin'), ['origin'], unique=False)


def downgrade():
    op.drop_table('announcement')
    op.drop_table('mail_address')
    with op.batch_alter_table('mail_preference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_preference_member_id'))
    op.drop_table('mail_preference')
    with op.batch_alter_table('outbound_mail', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbound_mail_member_id_member'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbound_mail_source'))
        batch_op.drop_index(batch_op.f('ix_outbound_mail_member_id'))
        batch_op.drop_column('source')
        batch_op.drop_column('member_id')
        batch_op.drop_column('kind')
        batch_op.drop_column('html')
