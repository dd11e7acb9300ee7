"""who has voted outlives membership

Revision ID: b2d4f6a8c924
Revises: a1c3e5f7b913
Create Date: 2026-12-06 04:30:00.000000

A voter row is keyed by a keyed hash of the ballot and the voter's address (filled here
from each voting member's address, with the node's ballot key) and keeps the member only
while they are one. A paper's ``secret_hash`` becomes ``owner_tag``, bound to the member
who cast it; papers cast before this revision were bound to nobody (their code alone
changed them), so their tags are emptied: they stand as cast and no code changes them.
"""
import hashlib
import hmac

from alembic import context, op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b2d4f6a8c924'
down_revision = 'a1c3e5f7b913'
branch_labels = None
depends_on = None


def _voter_hash(key: bytes, ballot_id: int, email: str) -> str:
    # services.ballots.voter_hash as it was written with this revision.
    message = f"{ballot_id}:{email.strip().lower()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _fill_voter_hashes() -> None:
    from node.keys import ballot_key  # the running node's key: the same one the app uses

    bind = op.get_bind()
    key = ballot_key()
    rows = bind.execute(
        sa.text(
            "SELECT ballot_voter.ballot_id, ballot_voter.member_id, member.email "
            "FROM ballot_voter JOIN member ON member.id = ballot_voter.member_id"
        )
    ).all()
    if rows:
        bind.execute(
            sa.text(
                "UPDATE ballot_voter SET voter = :voter "
                "WHERE ballot_id = :ballot_id AND member_id = :member_id"
            ),
            [
                {
                    "voter": _voter_hash(key, ballot_id, email),
                    "ballot_id": ballot_id,
                    "member_id": member_id,
                }
                for ballot_id, member_id, email in rows
            ],
        )


def upgrade():
    if context.is_offline_mode():
        raise RuntimeError("this revision hashes members' addresses: run it against the database")
    # SQLite rebuilds the table: keep it WITHOUT ROWID (key order, not the order of votes).
    kept_in_key_order = {'sqlite_with_rowid': False}
    with op.batch_alter_table('ballot_voter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voter', sa.String(length=64), nullable=True))
    _fill_voter_hashes()
    with op.batch_alter_table(
        'ballot_voter', schema=None, table_kwargs=kept_in_key_order
    ) as batch_op:
        batch_op.drop_index('ix_ballot_voter_member_id')
        batch_op.alter_column('voter', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint('pk_ballot_voter', type_='primary')
        batch_op.create_primary_key('pk_ballot_voter', ['ballot_id', 'voter'])
        batch_op.alter_column('member_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint('fk_ballot_voter_member_id_member', type_='foreignkey')
        batch_op.create_foreign_key(
            'fk_ballot_voter_member_id_member', 'member', ['member_id'], ['id'],
            ondelete='SET NULL',
        )
        batch_op.create_unique_constraint(
            'uq_ballot_voter_member_id', ['member_id', 'ballot_id']
        )

    # Both SQLite (3.25+) and PostgreSQL rename in place, keeping the table as it is.
    op.execute('ALTER TABLE ballot_paper RENAME COLUMN secret_hash TO owner_tag')
    op.execute("UPDATE ballot_paper SET owner_tag = ''")


def downgrade():
    op.execute('ALTER TABLE ballot_paper RENAME COLUMN owner_tag TO secret_hash')

    # The old table cannot hold voters who have left: that they voted is lost going down.
    op.execute('DELETE FROM ballot_voter WHERE member_id IS NULL')
    with op.batch_alter_table(
        'ballot_voter', schema=None, table_kwargs={'sqlite_with_rowid': False}
    ) as batch_op:
        batch_op.drop_constraint('uq_ballot_voter_member_id', type_='unique')
        batch_op.drop_constraint('fk_ballot_voter_member_id_member', type_='foreignkey')
        batch_op.create_foreign_key(
            'fk_ballot_voter_member_id_member', 'member', ['member_id'], ['id'],
            ondelete='CASCADE',
        )
        batch_op.drop_constraint('pk_ballot_voter', type_='primary')
        batch_op.alter_column('member_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_primary_key('pk_ballot_voter', ['ballot_id', 'member_id'])
        batch_op.drop_column('voter')
        batch_op.create_index('ix_ballot_voter_member_id', ['member_id'], unique=False)
