"""`branchline keys rotate`: new keys, the rotation entry, the actor document and the archive."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from federation.feed import verify_run
from federation.feed_walk import assertion_keys
from federation.rotation import KeyContinuity, read_rotation, revocations
from node.extensions import db
from node.models import FeedEntry, Group
from node.services import feed
from tests.node.test_cli import Cli, set_up  # noqa: F401

ACTOR = "https://leeds.branchline.test/actor"


@pytest.fixture
def cli(tmp_path, database_url):
    runner = Cli(tmp_path / "instance", database_url)
    yield runner
    runner.close()


@pytest.fixture
def node(cli):
    from node import create_app

    app = create_app(
        {"INSTANCE_PATH": str(cli.instance), "DATABASE_URL": cli.database_url, "SECRET_KEY": "x"}
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def _actor(app) -> dict:
    response = app.test_client().get("/actor", headers={"Accept": "application/activity+json"})
    assert response.status_code == 200
    return response.get_json()


def _entries(app) -> list[dict]:
    with app.app_context():
        bodies = db.session.scalars(select(FeedEntry.body).order_by(FeedEntry.seq)).all()
    return [json.loads(body) for body in bodies]


def _publish_group_update(app) -> None:
    with app.app_context():
        group = db.session.scalar(select(Group))
        group.summary = "Now with new keys."
        feed.record(group, "update")
        db.session.commit()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_rotate_publishes_the_rotation_and_updates_the_actor(cli, set_up, node):  # noqa: F811
    _publish_group_update(node)  # an entry signed by the first keys
    before = _actor(node)

    result = cli("keys", "rotate")

    assert result.exit_code == 0, result.output
    entries = _entries(node)
    rotation_entry = entries[-1]
    assert f"feed entry {rotation_entry['seq']}" in result.output
    rotation = read_rotation(rotation_entry, ACTOR)
    assert rotation is not None
    assert rotation.previous_key == f"{ACTOR}#ed25519-key"
    assert rotation_entry["proof"]["verificationMethod"] == f"{ACTOR}#ed25519-key"
    after = _actor(node)
    assert after["publicKey"]["id"] == f"{ACTOR}#main-key-2"
    assert after["publicKey"]["publicKeyPem"] != before["publicKey"]["publicKeyPem"]
    current, retired = after["assertionMethod"]
    assert current["id"] == f"{ACTOR}#ed25519-key-2" and "expires" not in current
    assert retired["id"] == f"{ACTOR}#ed25519-key" and "expires" in retired
    assert "revoked" not in retired
    assert [entry["seq"] for entry in after["keyRotations"]] == [rotation_entry["seq"]]
    assert after["feedHead"]["seq"] == rotation_entry["seq"]


def test_entries_after_a_rotation_use_the_new_key_and_the_feed_verifies(cli, set_up, node):  # noqa: F811
    _publish_group_update(node)
    assert cli("keys", "rotate").exit_code == 0

    _publish_group_update(node)  # this app loaded the old keys: it must sign with the new

    entries = _entries(node)
    assert entries[-1]["proof"]["verificationMethod"] == f"{ACTOR}#ed25519-key-2"
    document = _actor(node)
    published = assertion_keys(document, ACTOR)
    report = verify_run(
        entries,
        actor=ACTOR,
        lookup_key=published.get,
        continuity=KeyContinuity(ACTOR, published.get, revoked=revocations(document, ACTOR)),
    )
    assert report.ok, report.problem


def test_keys_rotate_keeps_the_old_keys_owner_only(cli, set_up):  # noqa: F811
    assert cli("keys", "rotate").exit_code == 0
    assert cli("keys", "rotate").exit_code == 0

    folder = cli.instance / "keys"
    assert (folder / "generation").read_text().strip() == "3"
    for generation in ("1", "2"):
        archived = folder / "archive" / generation
        assert _mode(archived) == 0o700
        for name in ("http-rsa.pem", "proof-ed25519.pem", "retired.json"):
            assert _mode(archived / name) == 0o600
        assert json.loads((archived / "retired.json").read_text())["generation"] == int(generation)
    assert not (folder / "pending").exists()


def test_compromised_rotation_marks_the_old_key_revoked(cli, set_up, node):  # noqa: F811
    result = cli("keys", "rotate", "--compromised-since", "2026-01-02T03:04:05Z")

    assert result.exit_code == 0, result.output
    assert "refuse what the old key signed from 2026-01-02T03:04:05Z" in result.output
    _current, retired = _actor(node)["assertionMethod"]
    assert retired["revoked"] == "2026-01-02T03:04:05Z"
    statement = _entries(node)[-1]["keyRotation"]
    assert statement["compromisedSince"] == "2026-01-02T03:04:05Z"


@pytest.mark.parametrize(
    ("value", "message"),
    [("yesterday", "--compromised-since"), ("2026-01-02T03:04:05", "timezone")],
)
def test_keys_rotate_refuses_a_time_it_cannot_read(cli, set_up, node, value, message):  # noqa: F811
    count = len(_entries(node))

    result = cli("keys", "rotate", "--compromised-since", value)

    assert result.exit_code == 2 and message in result.output
    assert len(_entries(node)) == count
    assert not (cli.instance / "keys" / "generation").exists()


def test_keys_rotate_refuses_a_compromise_in_the_future(cli, set_up, node):  # noqa: F811
    future = datetime(2999, 1, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    result = cli("keys", "rotate", "--compromised-since", future)

    assert result.exit_code == 1 and "future" in result.output
    assert not (cli.instance / "keys" / "generation").exists()
    assert not (cli.instance / "keys" / "pending").exists()
