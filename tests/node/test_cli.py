"""The `branchline` command line, run the way an operator runs it: configured by BRANCHLINE_*."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from node import create_app
from node.cli import main
from node.extensions import db
from node.models import ApiToken, Group, Invite, Member, digest
from schemas import vocab

ADMIN_PASSWORD = "a long admin passphrase"
BASE_URL = "https://leeds.branchline.test"


class Cli:
    """Run `branchline` commands against one instance folder and database."""

    def __init__(self, instance: Path, database_url: str) -> None:
        self.instance = instance
        self.database_url = database_url
        self.apps: list[Flask] = []

    def env(self, **extra: str) -> dict[str, str | None]:
        return {
            "BRANCHLINE_INSTANCE_PATH": str(self.instance),
            "BRANCHLINE_DATABASE_URL": self.database_url,
            "BRANCHLINE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "BRANCHLINE_SECRET_KEY": None,  # let the node make and keep its own
            **extra,
        }

    def __call__(self, *args: str, **env: str):
        result = CliRunner().invoke(main, list(args), env=self.env(**env), obj=self._script_info())
        return result

    def _script_info(self):
        from flask.cli import ScriptInfo

        def factory() -> Flask:
            app = create_app()  # reads the environment the runner set, as the real CLI does
            self.apps.append(app)
            return app

        return ScriptInfo(create_app=factory)

    def init(self, **env: str):
        return self(
            "init",
            "--name",
            "Leeds North Momentum",
            "--handle",
            "leedsnorth",
            "--base-url",
            BASE_URL,
            "--admin-email",
            "Admin@Example.org",
            **env,
        )

    def close(self) -> None:
        for app in self.apps:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture
def cli(tmp_path, database_url):
    runner = Cli(tmp_path / "instance", database_url)
    yield runner
    runner.close()


@pytest.fixture
def node(cli):
    """Look at what the commands stored, through an app on the same database."""
    app = create_app(
        {
            "INSTANCE_PATH": str(cli.instance),
            "DATABASE_URL": cli.database_url,
            "SECRET_KEY": "inspector",
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def set_up(cli):
    result = cli.init()
    assert result.exit_code == 0, result.output
    return result


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_the_group_and_its_admin(cli, node):
    result = cli.init()

    assert result.exit_code == 0, result.output
    assert "Set up Leeds North Momentum (@leedsnorth)" in result.output
    with node.app_context():
        group = db.session.scalar(select(Group))
        assert (group.name, group.handle, group.base_url) == (
            "Leeds North Momentum",
            "leedsnorth",
            BASE_URL,
        )
        admin = db.session.scalar(select(Member))
        assert (admin.email, admin.role, admin.status) == ("admin@example.org", "admin", "active")
        assert admin.password_hash and ADMIN_PASSWORD not in admin.password_hash


def test_init_refuses_to_set_up_a_node_twice(cli, set_up, node):
    result = cli.init()

    assert result.exit_code != 0
    assert "already set up" in result.output
    with node.app_context():
        assert len(db.session.scalars(select(Group)).all()) == 1
        assert len(db.session.scalars(select(Member)).all()) == 1


def test_init_without_a_password_and_no_terminal_says_what_to_do(cli, node):
    result = cli.init(BRANCHLINE_ADMIN_PASSWORD="")

    assert result.exit_code != 0
    assert "BRANCHLINE_ADMIN_PASSWORD" in result.output
    with node.app_context():
        assert db.session.scalar(select(Group)) is None


def test_init_keeps_the_instance_folder_and_its_secrets_owner_only(cli, set_up):
    assert _mode(cli.instance) == 0o700
    secret = cli.instance / "secret_key"
    assert secret.is_file()
    assert _mode(secret) == 0o600
    assert len(secret.read_text().strip()) >= 32
    for path in cli.instance.rglob("*"):
        assert not _mode(path) & 0o077, f"{path} is readable by others: {oct(_mode(path))}"


def test_secret_key_survives_restarts(cli, set_up):
    first = (cli.instance / "secret_key").read_text()
    assert cli("member", "list").exit_code == 0
    assert (cli.instance / "secret_key").read_text() == first


def test_member_add_stores_an_active_member_with_no_password(cli, set_up, node):
    result = cli("member", "add", "Sam@Example.org", "--name", "Sam", "--role", "organiser")

    with node.app_context():
        sam = db.session.scalar(select(Member).where(Member.email == "sam@example.org"))
        assert sam is not None, result.output
        assert (sam.display_name, sam.role, sam.status) == ("Sam", "organiser", "active")
        assert sam.password_hash is None


def test_member_add_prints_an_invite_link_on_the_group_address(cli, set_up, node):
    if "auth.accept_invite" not in node.view_functions:
        pytest.xfail("the auth.accept_invite page is not written yet")

    result = cli("member", "add", "sam@example.org", "--name", "Sam")

    assert result.exit_code == 0, result.output
    assert "Added sam@example.org as member" in result.output
    link = next(word for word in result.output.split() if word.startswith("http"))
    assert link.startswith(BASE_URL + "/")
    with node.app_context():
        tokens = {i.token_hash: i for i in db.session.scalars(select(Invite))}
    secret = next(
        part
        for part in link.replace("?", "/").replace("=", "/").split("/")
        if hashlib.sha256(part.encode()).hexdigest() in tokens
    )
    invite = tokens[hashlib.sha256(secret.encode()).hexdigest()]
    assert (invite.email, invite.role, invite.used_at) == ("sam@example.org", "member", None)


def test_member_add_refuses_an_address_already_taken(cli, set_up):
    result = cli("member", "add", "admin@example.org")

    assert result.exit_code != 0
    assert "already exists" in result.output


def test_member_list_prints_one_line_per_member(cli, set_up, node):
    with node.app_context():
        db.session.add_all(
            [
                Member(email="sam@example.org", display_name="Sam", role="member"),
                Member(email="kim@example.org", display_name="Kim", role="organiser"),
            ]
        )
        db.session.commit()

    result = cli("member", "list")

    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[:4] for row in rows] == [
        ["admin@example.org", "Admin", "admin", "active"],
        ["kim@example.org", "Kim", "organiser", "active"],
        ["sam@example.org", "Sam", "member", "active"],
    ]
    assert "3 member(s)" in result.stderr

    organisers = cli("member", "list", "--role", "organiser")
    assert [line.split("\t")[0] for line in organisers.stdout.splitlines()] == ["kim@example.org"]


def test_member_set_changes_role_and_status(cli, set_up, node):
    with node.app_context():
        db.session.add(Member(email="sam@example.org", display_name="Sam", role="member"))
        db.session.commit()

    promoted = cli("member", "set", "sam@example.org", "--role", "organiser")
    suspended = cli("member", "set", "sam@example.org", "--status", "suspended")

    assert promoted.exit_code == 0, promoted.output
    assert "sam@example.org: organiser, active" in promoted.output
    assert suspended.exit_code == 0, suspended.output
    with node.app_context():
        sam = db.session.scalar(select(Member).where(Member.email == "sam@example.org"))
        assert (sam.role, sam.status) == ("organiser", "suspended")


def test_member_set_keeps_the_last_admin(cli, set_up, node):
    result = cli("member", "set", "admin@example.org", "--role", "member")

    assert result.exit_code != 0
    assert "at least one active admin" in result.output
    with node.app_context():
        assert db.session.scalar(select(Member.role)) == "admin"


def test_member_set_names_an_unknown_member(cli, set_up):
    result = cli("member", "set", "nobody@example.org", "--role", "organiser")

    assert result.exit_code != 0
    assert "No member with e-mail nobody@example.org" in result.output


def test_token_create_prints_a_bearer_token_with_the_role_scopes(cli, set_up, node):
    result = cli("token", "create", "admin@example.org", "--name", "phonebank laptop")

    assert result.exit_code == 0, result.output
    value = result.stdout.strip()
    assert value.startswith("blt_") and len(value) > 40
    with node.app_context():
        stored = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(value)))
        assert stored is not None
        assert value not in stored.token_hash
        assert stored.scope.split() == list(vocab.SCOPES_BY_ROLE["admin"])
        assert stored.name == "phonebank laptop"
        assert not stored.is_expired() and not stored.is_revoked()
        assert stored.member.email == "admin@example.org"


def test_token_create_narrows_scopes_and_sets_expiry(cli, set_up, node):
    result = cli("token", "create", "admin@example.org", "--scope", "read", "--days", "30")

    assert result.exit_code == 0, result.output
    with node.app_context():
        stored = db.session.scalar(
            select(ApiToken).where(ApiToken.token_hash == digest(result.stdout.strip()))
        )
        assert stored.scope == "read"
        assert 29 * 86400 < (stored.expires_at - stored.created_at).total_seconds() <= 30 * 86400


def test_token_create_refuses_scopes_beyond_the_role(cli, set_up, node):
    with node.app_context():
        db.session.add(Member(email="sam@example.org", display_name="Sam", role="member"))
        db.session.commit()

    result = cli("token", "create", "sam@example.org", "--scope", "members")

    assert result.exit_code != 0
    assert "cannot hold" in result.output
    with node.app_context():
        assert db.session.scalar(select(ApiToken)) is None


def test_token_create_refuses_a_suspended_member(cli, set_up, node):
    with node.app_context():
        db.session.add(
            Member(email="sam@example.org", display_name="Sam", role="member", status="suspended")
        )
        db.session.commit()

    result = cli("token", "create", "sam@example.org")

    assert result.exit_code != 0
    assert "only active members get tokens" in result.output
