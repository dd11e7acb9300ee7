"""A full disk, a locked or missing database: 503 with Retry-After, nothing half written, and
visitors still shown the last copy of public pages."""

from __future__ import annotations

import errno
import io
import re
import shutil
import socket
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import event

from node import create_app
from node.extensions import db
from node.models import FeedEntry, Group, Post
from node.services import content_version, profile
from tests import factories
from tests.conftest import TEST_DATABASE_URL, log_in, post_form
from tests.node.api_support import assert_error, count

# These raise SQLite's own errors (sqlite3.OperationalError) through the engine: on a
# PostgreSQL test database the driver is psycopg, so they say nothing there. The
# PostgreSQL cases (a server that is down) are tested below.
sqlite_only = pytest.mark.skipif(
    bool(TEST_DATABASE_URL), reason="simulates SQLite's errors; PostgreSQL is tested below"
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _fail_statements(starting: str, message: str):
    """Make every SQL statement starting with ``starting`` fail as SQLite does, until undone."""

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(starting):
            raise sqlite3.OperationalError(message)

    event.listen(db.engine, "before_cursor_execute", refuse)
    return lambda: event.remove(db.engine, "before_cursor_execute", refuse)


def _assert_503(response):
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert int(response.headers["Retry-After"]) > 0
    assert "cannot store data right now" in response.get_data(as_text=True)


@sqlite_only
def test_full_disk_on_an_api_write_answers_503_and_writes_nothing(api, organiser_token):
    before_posts, before_entries = count(Post), count(FeedEntry)
    undo = _fail_statements("INSERT INTO FEED_ENTRY", "database or disk is full")
    try:
        response = api.post("/posts", organiser_token, json={"title": "Hello"})
    finally:
        undo()
    _assert_503(response)
    assert_error(response, 503)
    # The post row was flushed before the feed entry failed: rolled back with it.
    assert (count(Post), count(FeedEntry)) == (before_posts, before_entries)
    assert api.post("/posts", organiser_token, json={"title": "Hello"}).status_code == 201


@sqlite_only
def test_full_disk_on_a_form_answers_a_503_page(client, organiser):
    log_in(client, organiser)
    undo = _fail_statements("INSERT INTO POST", "database or disk is full")
    try:
        response = post_form(
            client,
            "/manage/posts/new",
            {"title": "Hello", "body": "", "visibility": "public"},
        )
    finally:
        undo()
    _assert_503(response)
    assert response.mimetype == "text/html"
    assert "Something went wrong" not in response.get_data(as_text=True)
    assert count(Post) == 0


@sqlite_only
def test_locked_database_beyond_the_timeout_answers_503(api, organiser_token):
    undo = _fail_statements("INSERT INTO POST", "database is locked")
    try:
        response = api.post("/posts", organiser_token, json={"title": "Hello"})
    finally:
        undo()
    _assert_503(response)
    assert count(Post) == 0


def test_other_database_errors_stay_500(api, organiser_token):
    undo = _fail_statements("INSERT INTO POST", "no such column: nonsense")
    try:
        response = api.post("/posts", organiser_token, json={"title": "Hello"})
    finally:
        undo()
    assert response.status_code == 500
    assert "Retry-After" not in response.headers


def test_full_disk_while_saving_a_logo_answers_503_and_leaves_no_file(
    client, organiser, monkeypatch
):
    log_in(client, organiser)
    real_write = profile.write_private_file

    def half_then_full(path: Path, data: bytes) -> None:
        real_write(path, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(profile, "write_private_file", half_then_full)
    response = post_form(
        client,
        "/manage/group/logo",
        {"logo": (io.BytesIO(PNG), "logo.png")},
        page="/manage/group",
        content_type="multipart/form-data",
    )
    _assert_503(response)
    db.session.expire_all()
    assert db.session.get(Group, 1).logo_filename is None
    folder = profile.logo_folder()
    assert not folder.exists() or list(folder.iterdir()) == []


# The database goes away ------------------------------------------------------------------


@pytest.fixture
def app_config(app_config, tmp_path):
    """Keep the SQLite file in a folder of its own, so a test can take the folder away."""
    if TEST_DATABASE_URL:
        return app_config
    source = Path(app_config["DATABASE_URL"].removeprefix("sqlite:///"))
    folder = tmp_path / "database"
    folder.mkdir()
    shutil.move(source, folder / source.name)
    return {**app_config, "DATABASE_URL": f"sqlite:///{folder / source.name}"}


@pytest.fixture
def database_away(app):
    """Return a callable that makes the SQLite database unreachable until the test ends."""
    if TEST_DATABASE_URL:
        pytest.skip("takes a SQLite file away")
    folder = Path(db.engine.url.database).parent
    hidden = folder.with_name("database-away")

    def take_away() -> None:
        db.session.remove()
        db.engine.dispose()
        folder.rename(hidden)
        # A page served from a copy within a second of the last reading of the content
        # version needs no database (node/services/content_version.py); the database stays
        # away for longer than that.
        content_version.forget_reading()

    yield take_away
    if hidden.exists():
        db.engine.dispose()
        hidden.rename(folder)


def test_visitors_get_the_last_copy_of_public_pages_while_the_database_is_away(
    app, client, database_away
):
    factories.post(title="Spring leafleting")
    first = client.get("/news")
    assert first.status_code == 200
    database_away()

    again = client.get("/news")
    assert again.status_code == 200
    html = again.get_data(as_text=True)
    assert "Spring leafleting" in html
    assert "may be out of date" in html
    assert again.headers["X-Branchline-Copy"].startswith("saved ")
    assert "Age" in again.headers
    # Serving the copy does not make it a new copy: still one notice, still the first time.
    third = client.get("/news")
    assert third.get_data(as_text=True).count("may be out of date") == 1
    assert third.headers["X-Branchline-Copy"] == again.headers["X-Branchline-Copy"]
    # A page nobody was shown before has no copy: 503.
    _assert_503(client.get("/campaigns"))


def test_the_api_answers_503_json_while_the_database_is_away(app, api, database_away):
    assert api.get("/posts").status_code == 200
    database_away()
    response = api.get("/posts")
    _assert_503(response)
    assert_error(response, 503)


def test_a_members_pages_are_never_kept_nor_served_from_the_copies(
    app, client, member, database_away
):
    factories.post(title="Members only", visibility="members")
    log_in(client, member)
    assert "Members only" in client.get("/news").get_data(as_text=True)
    visitor = app.test_client()
    assert "Members only" not in visitor.get("/events").get_data(as_text=True)
    database_away()

    # The member's rendering of /news was not kept for visitors ...
    _assert_503(visitor.get("/news"))
    # ... and the member is not shown the visitors' copy of /events as if it were theirs.
    _assert_503(client.get("/events"))
    assert visitor.get("/events").status_code == 200


def test_copies_carry_no_visitors_form_token(app, client, database_away):
    event_row = factories.event(title="Open meeting")
    page = client.get(f"/events/{event_row.id}").get_data(as_text=True)
    database_away()
    copy = app.test_client().get(f"/events/{event_row.id}").get_data(as_text=True)
    assert "Open meeting" in copy
    assert re.search(r'name="csrf_token"[^>]*value="[^"]+"', page)  # the visitor's own token
    assert 'name="csrf_token" value=""' in copy
    assert not re.search(r'name="csrf_token"[^>]*value="[^"]+"', copy)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens


def test_an_unreachable_postgresql_answers_503(tmp_path, node_keys):
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"postgresql+psycopg://branchline@127.0.0.1:{_closed_port()}/none",
            "SECRET_KEY": "test-secret",
            "BASE_URL": "http://localhost",
            "SERVER_NAME": "localhost",
        }
    )
    app.extensions["branchline_keys"] = node_keys
    client = app.test_client()
    page = client.get("/")
    _assert_503(page)
    assert page.mimetype == "text/html"
    response = client.post(
        "/api/v1/posts", json={"title": "x"}, headers={"Authorization": "Bearer some-token"}
    )
    _assert_503(response)
    assert response.mimetype == "application/json"


@sqlite_only
def test_a_disk_full_for_every_write_still_answers_503(api, client, organiser, organiser_token):
    log_in(client, organiser)
    undo_inserts = _fail_statements("INSERT", "database or disk is full")
    undo_updates = _fail_statements("UPDATE", "database or disk is full")
    try:
        from_api = api.post("/posts", organiser_token, json={"title": "Hello"})
        from_form = post_form(
            client, "/manage/posts/new", {"title": "Hello", "body": "", "visibility": "public"}
        )
    finally:
        undo_inserts()
        undo_updates()
    _assert_503(from_api)
    _assert_503(from_form)
    assert count(Post) == 0
