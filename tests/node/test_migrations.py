"""Migrations build the schema the models describe, on SQLite and (when configured) PostgreSQL.

These tests migrate their own empty database rather than the conftest's template: a fresh
SQLite file, and on PostgreSQL a dedicated schema reached through ``search_path``, so they
never disturb the template the other tests share.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, make_url, text

from node import MIGRATIONS, create_app
from node.extensions import db

TEST_DATABASE_URL = os.environ.get("BRANCHLINE_TEST_DATABASE_URL")
PG_SCHEMA = "branchline_migrations_test"


def _postgres_schema_url(base: str) -> str:
    """Give the test a schema of its own and return a URL whose search_path is only that."""
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    engine.dispose()
    url = make_url(base).update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"})
    return url.render_as_string(hide_password=False)


def _drop_postgres_schema(base: str) -> None:
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    engine.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not TEST_DATABASE_URL, reason="BRANCHLINE_TEST_DATABASE_URL is not set"
            ),
        ),
    ]
)
def empty_app(request, tmp_path):
    """An app on an empty database with no tables at all."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    else:
        url = _postgres_schema_url(TEST_DATABASE_URL)
    app = create_app(
        {"INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": url, "SECRET_KEY": "x"}
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    if request.param == "postgresql":
        _drop_postgres_schema(TEST_DATABASE_URL)


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _model_tables() -> set[str]:
    return set(db.metadata.tables)


def _differences() -> list:
    """Return what autogenerate would put in a new migration (nothing, if they agree)."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, db.metadata)


def _head() -> str:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def _current_revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migrations_form_one_line_of_history():
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert len(heads) == 1, f"several migration heads, merge them: {heads}"


def test_upgrade_from_empty_database_reaches_head_with_every_model_table(empty_app):
    assert _tables() == set()

    upgrade(directory=str(MIGRATIONS))

    assert _current_revision() == _head()
    assert _tables() == _model_tables() | {"alembic_version"}


def test_downgrade_to_base_removes_every_table_and_upgrade_rebuilds_them(empty_app):
    upgrade(directory=str(MIGRATIONS))

    downgrade(directory=str(MIGRATIONS), revision="base")
    assert _tables() <= {"alembic_version"}
    assert _current_revision() is None

    upgrade(directory=str(MIGRATIONS))
    assert _current_revision() == _head()
    assert _tables() == _model_tables() | {"alembic_version"}
    assert _differences() == []


def test_models_and_migrations_agree(empty_app):
    upgrade(directory=str(MIGRATIONS))

    differences = _differences()

    assert differences == [], (
        "the models differ from what the migrations build; "
        "run `flask --app node db migrate -m ...` and review the result:\n"
        + "\n".join(map(repr, differences))
    )


# Tables whose rows must survive every step down to the federation schema and back up.
KEPT = (
    "group_profile",
    "member",
    "event",
    "rsvp",
    "peer",
    "following",
    "remote_entry",
    "remote_object",
)
FEDERATION_SCHEMA = "68a3da2f4b17"


def _counts() -> dict[str, int]:
    with db.engine.connect() as conn:
        return {name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar() for name in KEPT}


def test_stepping_down_and_up_again_keeps_every_row(empty_app):
    # SQLite rebuilds a table to change it; with foreign keys on, dropping the old copy would
    # delete every row that points at it (a peer's entries, follows and objects).
    from node.models import Following, Peer, RemoteEntry, RemoteObject
    from tests import factories

    upgrade(directory=str(MIGRATIONS))
    factories.group()
    event = factories.event()
    from node.services.organising import events

    events.respond(event, factories.member(), "going")
    peer = Peer(actor_id="http://127.0.0.2/actor", name="Hull", held_seq=1)
    db.session.add(peer)
    db.session.flush()
    entry = RemoteEntry(
        peer_id=peer.id,
        seq=1,
        activity_id="http://127.0.0.2/outbox/1",
        activity_type="Create",
        body="{}",
    )
    db.session.add_all([entry, Following(peer_id=peer.id, follow_activity_id="http://x/f/1")])
    db.session.add(
        RemoteObject(
            peer_id=peer.id,
            object_id="http://127.0.0.2/events/1",
            object_type="Event",
            data="{}",
            source_entry=entry,
        )
    )
    db.session.commit()
    before = _counts()
    assert all(before.values()), before
    db.session.remove()

    for revision in ScriptDirectory(str(MIGRATIONS)).walk_revisions():
        if revision.revision == FEDERATION_SCHEMA:
            break
        downgrade(directory=str(MIGRATIONS), revision="-1")
        assert _counts() == before, f"rows lost going below {revision.revision}"
    upgrade(directory=str(MIGRATIONS))

    assert _counts() == before


BEFORE_BALLOT_VOTERS = "a1c3e5f7b913"


def test_upgrading_turns_who_voted_into_a_keyed_hash_that_outlives_the_member(empty_app):
    from datetime import UTC, datetime, timedelta

    from node.models import Ballot, Member
    from node.services.errors import Conflict, Forbidden
    from node.services.membership import members
    from node.services.voting import votes
    from tests import factories

    upgrade(directory=str(MIGRATIONS), revision=BEFORE_BALLOT_VOTERS)
    now = datetime.now(UTC).replace(tzinfo=None)
    old_code = "ABCDEFGHJK-0123456789ABCDEF"
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO member (id, email, display_name, role, status, joined_at,"
                " session_version) VALUES (1, 'chris@example.org', 'Chris', 'member', 'active',"
                " :joined, 1)"
            ),
            {"joined": now - timedelta(days=30)},
        )
        conn.execute(
            text(
                "INSERT INTO ballot (id, question, description, kind, seats, opens_at, closes_at,"
                " freeze_at, allow_change, visibility, outcome, result, created_at, updated_at)"
                " VALUES (1, 'Twin with Hull?', '', 'yes_no', 1, :opens, :closes, :freeze,"
                " :yes, 'public', '', '', :opens, :opens)"
            ),
            {
                "opens": now - timedelta(days=1),
                "closes": now + timedelta(days=3),
                "freeze": now + timedelta(days=1),  # set up before the roll had to be fixed
                "yes": True,
            },
        )
        for position, label in enumerate(("Yes", "No", "Abstain")):
            conn.execute(
                text("INSERT INTO ballot_option (ballot_id, position, label) VALUES (1, :p, :l)"),
                {"p": position, "l": label},
            )
        conn.execute(text("INSERT INTO ballot_voter (ballot_id, member_id) VALUES (1, 1)"))
        conn.execute(
            text(
                "INSERT INTO ballot_paper (ballot_id, receipt, secret_hash, choices)"
                " VALUES (1, 'ABCDEFGHJK', :hashed, '[0]')"
            ),
            {"hashed": hashlib.sha256(old_code.encode()).hexdigest()},
        )

    upgrade(directory=str(MIGRATIONS))

    with db.engine.connect() as conn:
        voter = conn.execute(text("SELECT * FROM ballot_voter")).mappings().one()
        paper = conn.execute(text("SELECT * FROM ballot_paper")).mappings().one()
        if db.engine.dialect.name == "sqlite":
            sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ballot_voter'"))
            assert "WITHOUT ROWID" in sql.scalar().upper()
    assert voter["voter"] == votes.voter_hash(1, "chris@example.org")
    assert voter["member_id"] == 1
    assert paper["owner_tag"] == "" and paper["choices"] == "[0]"
    factories.group()
    ballot, chris = db.session.get(Ballot, 1), db.session.get(Member, 1)
    with pytest.raises(Forbidden):  # the code alone was a bearer credential: no longer
        votes.cast(ballot, chris, [1], old_code)
    members.remove(chris)
    back = factories.member(email="chris@example.org")
    with pytest.raises(Conflict, match="already voted in this ballot"):
        votes.cast(db.session.get(Ballot, 1), back, [1])
    assert db.session.scalar(text("SELECT count(*) FROM ballot_paper")) == 1
