"""Migrations build the schema the models describe, on SQLite and (when configured) PostgreSQL.

These tests migrate their own empty database rather than the conftest's template: a fresh
SQLite file, and on PostgreSQL a dedicated schema reached through ``search_path``, so they
never disturb the template the other tests share.
"""

from __future__ import annotations

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
