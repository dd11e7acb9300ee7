"""ids of public objects never reused on SQLite (AUTOINCREMENT); join requests; joining settings

Revision ID: f3a9c7e1d5b8
Revises: a7e3c1d5f9b2
Create Date: 2026-12-06 19:10:00.000000

SQLite gives a deleted row's id to the next row unless the table is declared AUTOINCREMENT,
which SQLite cannot add to an existing table: each table whose ids are public (page
addresses, the signed feed, links in mail) is rebuilt with it, keeping every row and id.
The rebuild's copy sets sqlite_sequence to the highest id kept; an id deleted above that
may still be named by the signed feed (a tombstone), so the sequence is raised past the
highest id the feed names too. PostgreSQL's sequences never go back: nothing to do there.
"""

import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f3a9c7e1d5b8"
down_revision = "a7e3c1d5f9b2"
branch_labels = None
depends_on = None

# Table -> the path segment of its page in feed object ids (None: not in the feed).
PUBLIC_IDS = {
    "event": "events",
    "campaign": "campaigns",
    "candidate": "candidates",
    "post": "news",
    "ballot": "ballots",
    "event_series": None,
    "event_shift": None,
}


def _highest_in_feed(bind, segment):
    pattern = re.compile(rf"/{segment}/(\d+)$")
    rows = bind.execute(
        sa.text("SELECT object_id FROM feed_entry WHERE object_id LIKE :like"),
        {"like": f"%/{segment}/%"},
    )
    found = [int(m.group(1)) for (value,) in rows if (m := pattern.search(value or ""))]
    return max(found, default=0)


def _rebuild(autoincrement):
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    kwargs = {"sqlite_autoincrement": True} if autoincrement else {}
    for table in PUBLIC_IDS:
        with op.batch_alter_table(table, recreate="always", table_kwargs=kwargs):
            pass
    if not autoincrement:
        return
    for table, segment in PUBLIC_IDS.items():
        highest = bind.execute(
            sa.select(sa.func.coalesce(sa.func.max(sa.column("id")), 0)).select_from(
                sa.table(table)
            )
        ).scalar()
        if segment is not None:
            highest = max(highest, _highest_in_feed(bind, segment))
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :name"), {"name": table})
        bind.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:name, :seq)"),
            {"name": table, "seq": highest},
        )


def upgrade():
    _rebuild(autoincrement=True)
    op.create_table(
        "join_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("postcode", sa.String(length=10), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_request")),
        sa.UniqueConstraint("email", name=op.f("uq_join_request_email")),
    )
    with op.batch_alter_table("join_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_join_request_created_at"), ["created_at"])
    with op.batch_alter_table("group_profile", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("joining_open", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(sa.Column("join_questions", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("group_profile", schema=None) as batch_op:
        batch_op.drop_column("join_questions")
        batch_op.drop_column("joining_open")
    with op.batch_alter_table("join_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_join_request_created_at"))
    op.drop_table("join_request")
    _rebuild(autoincrement=False)
