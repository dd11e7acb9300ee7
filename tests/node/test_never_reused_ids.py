"""Ids of public objects are never handed out again after a delete, on SQLite too (defect 7).

A new event must not get ``/events/4`` after the old 4 was deleted: calendar entries, mail
links and peers' tombstones name the old one. The models declare SQLite AUTOINCREMENT, and
migration f3a9c7e1d5b8 rebuilds the tables of a database made before it, keeping its ids.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, MetaData, Table, text
from sqlalchemy import inspect as inspect_schema

from node import MIGRATIONS, create_app
from node.extensions import db
from node.models import Ballot, Campaign, Candidate, Event, EventSeries, Post, Shift
from tests import factories

BEFORE = "a7e3c1d5f9b2"  # the head before the ids were made never reused
PUBLIC = (Event, Campaign, Candidate, Post, Ballot, EventSeries, Shift)


@pytest.mark.parametrize("model", PUBLIC, ids=lambda model: model.__tablename__)
def test_every_table_with_public_ids_is_autoincrement(app, model):
    assert model.__table__.dialect_options["sqlite"]["autoincrement"] is True
    if db.engine.dialect.name == "sqlite":
        sql = db.session.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": model.__tablename__},
        ).scalar()
        assert "AUTOINCREMENT" in sql


def test_a_new_event_never_gets_the_id_of_a_deleted_one(app, group):
    first, last = factories.event(), factories.event()
    gone = last.id
    db.session.delete(last)
    db.session.commit()

    again = factories.event()

    assert again.id > gone > first.id


def test_a_new_shift_never_gets_the_id_of_a_deleted_one(app, group):
    shift = factories.shift()
    gone = shift.id
    db.session.delete(shift)
    db.session.commit()

    assert factories.shift().id > gone


# Through the migration, on a database made at the previous head --------------------------


@pytest.fixture
def old_app(tmp_path):
    """An app on an SQLite database migrated only up to the head before the change."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    app = create_app(
        {"INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": url, "SECRET_KEY": "x"}
    )
    with app.app_context():
        upgrade(directory=str(MIGRATIONS), revision=BEFORE)
        yield app
        db.session.remove()
        db.engine.dispose()


def _filler(column):
    kind = type(column.type)
    if issubclass(kind, Boolean):
        return False
    if issubclass(kind, Integer):
        return 0
    if issubclass(kind, Float):
        return 0.0
    if issubclass(kind, DateTime):
        return datetime(2026, 3, 1, 10, 0)
    if issubclass(kind, Date):
        return date(2026, 3, 1)
    return "x"


def _insert(table_name: str, **values) -> int:
    """Insert a row, filling every required column with a plain value; return its id."""
    table = Table(table_name, MetaData(), autoload_with=db.engine)
    row = {
        column.name: _filler(column)
        for column in table.columns
        if not column.nullable and column.server_default is None and not column.primary_key
    }
    row.update(values)
    with db.engine.begin() as conn:
        return conn.execute(table.insert().values(**row)).inserted_primary_key[0]


def _delete(table_name: str, row_id: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table_name} WHERE id = :id"), {"id": row_id})


def test_the_migration_keeps_ids_and_never_reuses_them_afterwards(old_app):
    ids = [_insert("event", title=f"Stall {n}") for n in range(3)]
    _delete("event", ids[1])
    campaign = _insert("campaign", title="Save the library")

    upgrade(directory=str(MIGRATIONS))

    with db.engine.connect() as conn:
        kept = conn.execute(text("SELECT id, title FROM event ORDER BY id")).all()
    assert [tuple(row) for row in kept] == [(ids[0], "Stall 0"), (ids[2], "Stall 2")]
    assert (
        "AUTOINCREMENT"
        in db.session.execute(text("SELECT sql FROM sqlite_master WHERE name = 'event'")).scalar()
    )
    after = _insert("event", title="Stall 3")
    assert after == ids[2] + 1
    _delete("event", after)
    assert _insert("event", title="Stall 4") == after + 1
    _delete("campaign", campaign)
    assert _insert("campaign", title="Save the park") == campaign + 1


def test_the_migration_starts_past_an_id_the_signed_feed_still_names(old_app):
    kept = _insert("event", title="Stall")
    # Event 7 was published and deleted before the upgrade: its tombstone is in the feed.
    _insert(
        "feed_entry",
        seq=1,
        activity_id="http://127.0.0.1:5000/outbox/1",
        activity_type="Delete",
        object_id="http://127.0.0.1:5000/events/7",
        object_type="Tombstone",
        created_at=datetime(2026, 3, 1, tzinfo=UTC).replace(tzinfo=None),
    )

    upgrade(directory=str(MIGRATIONS))

    assert kept == 1
    assert _insert("event", title="New stall") == 8
    assert "join_request" in inspect_schema(db.engine).get_table_names()
