"""ballots: questions put to the members, who voted (apart), and anonymous papers

Revision ID: b4d6f8a0c215
Revises: a3c5e7f9b104
Create Date: 2026-12-03 18:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b4d6f8a0c215'
down_revision = 'a3c5e7f9b104'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ballot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('opens_at', sa.DateTime(), nullable=False),
    sa.Column('closes_at', sa.DateTime(), nullable=False),
    sa.Column('freeze_at', sa.DateTime(), nullable=False),
    sa.Column('quorum', sa.Integer(), nullable=True),
    sa.Column('allow_change', sa.Boolean(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=True),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('voters_count', sa.Integer(), nullable=True),
    sa.Column('eligible_count', sa.Integer(), nullable=True),
    sa.Column('quorum_met', sa.Boolean(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidate.id'], name=op.f('fk_ballot_candidate_id_candidate'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['member.id'], name=op.f('fk_ballot_created_by_id_member'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot'))
    )
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_candidate_id'), ['candidate_id'], unique=False)

    op.create_table('ballot_option',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ballot_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], name=op.f('fk_ballot_option_ballot_id_ballot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot_option')),
    sa.UniqueConstraint('ballot_id', 'position', name='uq_ballot_option_position')
    )
    with op.batch_alter_table('ballot_option', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_option_ballot_id'), ['ballot_id'], unique=False)

    # Kept in key order, not the order votes came in (SQLite: WITHOUT ROWID).
    op.create_table('ballot_voter',
    sa.Column('ballot_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], name=op.f('fk_ballot_voter_ballot_id_ballot'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_ballot_voter_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ballot_id', 'member_id', name=op.f('pk_ballot_voter')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('ballot_voter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_voter_member_id'), ['member_id'], unique=False)

    op.create_table('ballot_paper',
    sa.Column('ballot_id', sa.Integer(), nullable=False),
    sa.Column('receipt', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('choices', sa.String(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], name=op.f('fk_ballot_paper_ballot_id_ballot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ballot_id', 'receipt', name=op.f('pk_ballot_paper')),
    sqlite_with_rowid=False
    )


def downgrade():
    op.drop_table('ballot_paper')
    with op.batch_alter_table('ballot_voter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_voter_member_id'))

    op.drop_table('ballot_voter')
    with op.batch_alter_table('ballot_option', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_option_ballot_id'))

    op.drop_table('ballot_option')
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_candidate_id'))

    op.drop_table('ballot')
