"""Shared fixtures: a fresh migrated database per test, a node app, members and logins.

The database is SQLite (a migrated template file copied per test) unless
BRANCHLINE_TEST_DATABASE_URL names a PostgreSQL database, which is migrated
once and emptied between tests.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket

import pytest
from flask import g
from sqlalchemy import create_engine, text

from node import create_app
from node.extensions import db
from tests import factories

TEST_DATABASE_URL = os.environ.get("BRANCHLINE_TEST_DATABASE_URL")


def _share_url_builders() -> None:
    """Compile each URL rule's builder once per run, not once per test's app.

    Werkzeug turns every rule into two builder functions through ``ast`` and ``compile``
    when the rule is bound to a map: a third of a small test's time, as every test builds
    its own app. The code depends only on the rule's text, its parsed trace, its defaults
    and ``append_unknown``, and is bound to the rule afterwards, so rules alike share it.
    """
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    compiled: dict[tuple, object] = {}

    def shared(rule, append_unknown=True):
        defaults = tuple((name, repr(value)) for name, value in (rule.defaults or {}).items())
        key = (rule.rule, tuple(rule._trace), defaults, append_unknown)
        if key not in compiled:
            compiled[key] = compile_builder(rule, append_unknown)
        return compiled[key]

    Rule._compile_builder = shared


_share_url_builders()

# One dialect and compiled-statement cache per kind of database for the whole run (see
# _share_compiled_sql).
_COMPILING: dict[tuple[str, str], tuple] = {}


def _share_compiled_sql(engine) -> None:
    """Let this test's engine reuse the SQL that earlier tests' engines compiled.

    SQLAlchemy caches compiled statements per engine, keyed by the engine's dialect object,
    so each test's new engine compiled every statement again: a fifth of a small test's
    time. Engines of one kind of database here are made alike (the same driver and
    options), so they can share one dialect and its cache; each keeps its own pool and
    connections.
    """
    kind = (engine.dialect.name, engine.dialect.driver)
    engine.dialect, engine._compiled_cache = _COMPILING.setdefault(
        kind, (engine.dialect, engine._compiled_cache)
    )


@pytest.fixture(autouse=True)
def _no_traffic_off_this_machine(monkeypatch):
    """Refuse any connection that would leave loopback, so no test can reach the network."""
    real_connect = socket.socket.connect

    def guarded(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise OSError(f"tests may only connect to loopback, not {host!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def _upgrade(app):
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)


@pytest.fixture(scope="session")
def _template_database(tmp_path_factory):
    """Migrate once per run: a template SQLite file, or the PostgreSQL test database."""
    folder = tmp_path_factory.mktemp("template")
    if TEST_DATABASE_URL:
        engine = create_engine(TEST_DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        app = create_app(
            {
                "INSTANCE_PATH": str(folder),
                "DATABASE_URL": TEST_DATABASE_URL,
                "SECRET_KEY": "template",
            }
        )
        _upgrade(app)
        return TEST_DATABASE_URL
    path = folder / "template.sqlite3"
    app = create_app(
        {
            "INSTANCE_PATH": str(folder),
            "DATABASE_URL": f"sqlite:///{path}",
            "SECRET_KEY": "template",
        }
    )
    _upgrade(app)
    with app.app_context():
        db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.engine.dispose()
    return path


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename NOT IN ('alembic_version', 'site_state')"
                )
            )
        ]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE site_state SET content_version = 0, feed_seq = 0"))
    engine.dispose()


@pytest.fixture
def database_url(_template_database, tmp_path):
    """A database URL holding the migrated, empty schema, fresh for this test."""
    if TEST_DATABASE_URL:
        _empty_postgres(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    target = tmp_path / "node.sqlite3"
    shutil.copy(_template_database, target)
    return f"sqlite:///{target}"


@pytest.fixture
def app_config(database_url, tmp_path):
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "BASE_URL": "http://localhost",
        "SERVER_NAME": "localhost",
        "PASSWORD_HASH_PROFILE": "cheapest",  # production cost is checked in test_passwords
    }


def _forget_request_globals() -> None:
    g._get_current_object().__dict__.clear()


@pytest.fixture(scope="session")
def node_keys(tmp_path_factory):
    """One set of node keys for the whole run (RSA generation is slow)."""
    from node.keys import load_or_create

    return load_or_create(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def app(app_config, node_keys):
    app = create_app(app_config)
    app.extensions["branchline_keys"] = node_keys
    # Tests keep one app context open, and Flask reuses it for every test-client request,
    # so `g` (the member, the group, Flask-WTF's CSRF token) would outlive the request
    # that filled it. Production gives each request a fresh context: start each from empty.
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_request_globals)
    with app.app_context():
        _share_compiled_sql(db.engine)
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def group(app):
    return factories.group()


@pytest.fixture
def client(app, group):
    return app.test_client()


@pytest.fixture
def admin(group):
    return factories.member(role="admin", email="admin@example.org")


@pytest.fixture
def organiser(group):
    return factories.member(role="organiser", email="organiser@example.org")


@pytest.fixture
def member(group):
    return factories.member(role="member", email="member@example.org")


CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, page: str = "/login") -> str:
    """Fetch a page with a form and return its CSRF token (the session keeps it)."""
    html = client.get(page).get_data(as_text=True)
    found = CSRF_INPUT.search(html)
    assert found, f"no csrf_token input on {page}"
    return found.group(1)


def post_form(client, path: str, data: dict | None = None, *, page: str | None = None, **kwargs):
    """POST a form as a browser would, with the CSRF token from ``page`` (default ``path``)."""
    data = dict(data or {})
    data["csrf_token"] = csrf_token(client, page or path)
    return client.post(path, data=data, **kwargs)


def log_in(client, who, password: str = factories.PASSWORD):
    """Log ``who`` in through the real log-in form."""
    response = post_form(client, "/login", {"email": who.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response
