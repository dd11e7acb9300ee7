"""sealed ballots: tellers, the ballot key's public half, sealed papers and trackers, opened papers

Revision ID: d4f6b8c0e246
Revises: c3e5a7b9d135
Create Date: 2026-12-06 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4f6b8c0e246'
down_revision = 'c3e5a7b9d135'
branch_labels = None
depends_on = None


def upgrade():
    # Ballots already in the database stay legacy (sealed false) until they close.
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('tellers_needed', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('public_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('key_salt', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('counted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('papers_erased_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('sealed_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('spoilt_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('tracker_list_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('opened_list_hash', sa.String(length=64), nullable=True))

    # Plain ADD COLUMN and CREATE INDEX (no batch rebuild), so ballot_voter stays WITHOUT ROWID.
    op.add_column('ballot_voter', sa.Column('sealed_paper', sa.LargeBinary(), nullable=True))
    op.add_column('ballot_voter', sa.Column('tracker', sa.String(length=64), nullable=True))
    op.create_index('uq_ballot_voter_tracker', 'ballot_voter', ['ballot_id', 'tracker'], unique=True)

    op.create_table('ballot_teller',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ballot_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('teller_key', sa.String(length=64), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('sealed_share', sa.LargeBinary(), nullable=True),
    sa.Column('commitment', sa.String(length=64), nullable=True),
    sa.Column('submitted_share', sa.LargeBinary(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], name=op.f('fk_ballot_teller_ballot_id_ballot'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_ballot_teller_member_id_member'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot_teller')),
    sa.UniqueConstraint('ballot_id', 'position', name='uq_ballot_teller_position')
    )
    with op.batch_alter_table('ballot_teller', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_teller_ballot_id'), ['ballot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ballot_teller_member_id'), ['member_id'], unique=False)

    op.create_table('ballot_opened',
    sa.Column('ballot_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('choices', sa.String(length=2000), nullable=False),
    sa.Column('spoilt', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], name=op.f('fk_ballot_opened_ballot_id_ballot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ballot_id', 'position', name=op.f('pk_ballot_opened'))
    )


def downgrade():
    op.drop_table('ballot_opened')
    with op.batch_alter_table('ballot_teller', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_teller_member_id'))
        batch_op.drop_index(batch_op.f('ix_ballot_teller_ballot_id'))
    op.drop_table('ballot_teller')

    op.drop_index('uq_ballot_voter_tracker', table_name='ballot_voter')
    # SQLite 3.35+ drops a column in place, keeping the table WITHOUT ROWID.
    op.drop_column('ballot_voter', 'tracker')
    op.drop_column('ballot_voter', 'sealed_paper')

    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.drop_column('opened_list_hash')
        batch_op.drop_column('tracker_list_hash')
        batch_op.drop_column('spoilt_count')
        batch_op.drop_column('sealed_count')
        batch_op.drop_column('papers_erased_at')
        batch_op.drop_column('counted_at')
        batch_op.drop_column('key_salt')
        batch_op.drop_column('public_key')
        batch_op.drop_column('tellers_needed')
        batch_op.drop_column('sealed')
