"""A rotation that fails or is cut short never leaves the node signing with unannounced keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from node import key_rotation
from node.extensions import db
from node.keys import node_keys
from node.models import FeedEntry
from node.models.types import utcnow
from node.services import rotation


def _rotation_entries() -> list[str]:
    bodies = db.session.scalars(select(FeedEntry.body)).all()
    return [body for body in bodies if '"keyRotation"' in body]


def test_a_rotation_whose_commit_fails_puts_the_old_keys_back(app, group, monkeypatch):
    before = node_keys()

    def refuse() -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(db.session, "commit", refuse)
    with pytest.raises(RuntimeError):
        rotation.rotate()
    monkeypatch.undo()

    after = node_keys()
    assert after.generation == 1 and after.proof_multikey == before.proof_multikey
    assert _rotation_entries() == []
    folder = Path(app.instance_path) / "keys"
    assert not (folder / "archive" / "1").exists() and not (folder / "pending").exists()


def test_keys_installed_without_their_entry_are_put_back_before_the_next_rotation(app, group):
    instance = Path(app.instance_path)
    first = node_keys()
    key_rotation.make_pending(instance, first)
    # The process died after installing the new keys and before committing their entry.
    key_rotation.install_pending(
        instance, first, seq=9, retired_at=utcnow(), compromised_since=None
    )
    assert node_keys().generation == 2

    said = rotation.finish_pending()

    assert "put back generation 1" in said
    assert node_keys().proof_multikey == first.proof_multikey
    done = rotation.rotate()
    assert done.new_key.endswith("#ed25519-key-2")
    assert len(_rotation_entries()) == 1


def test_a_rotation_is_listed_on_the_actor_with_its_entry(app, group, client):
    done = rotation.rotate()

    actor = client.get("/actor", headers={"Accept": "application/activity+json"}).get_json()

    assert [entry["seq"] for entry in actor["keyRotations"]] == [done.seq]
    assert actor["assertionMethod"][0]["id"] == done.new_key
