"""sessions revoked on the server, log-in failures, single-use invitations

Revision ID: a1c3e5f7b913
Revises: f8b0d2e4a659
Create Date: 2026-12-06 04:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c3e5f7b913'
down_revision = 'f8b0d2e4a659'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('member_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('device', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_member_session_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_session')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_member_session_key_hash'))
    )
    with op.batch_alter_table('member_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_session_member_id'), ['member_id'], unique=False)

    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('password_hash', sa.String(length=255), nullable=True))

    # Failures live for minutes: the old rows (keyed "account:…" / "address:…") are dropped
    # rather than translated, which at worst forgets a quarter of an hour of failures.
    op.drop_table('login_failure')
    op.create_table('login_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=254), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure'))
    )
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failure_account'), ['account'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_failure_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_failure_at'), ['at'], unique=False)


def downgrade():
    op.drop_table('login_failure')
    op.create_table('login_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure'))
    )
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failure_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_failure_key'), ['key'], unique=False)

    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.drop_column('password_hash')
        batch_op.drop_column('display_name')

    with op.batch_alter_table('member_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_session_member_id'))
    op.drop_table('member_session')
