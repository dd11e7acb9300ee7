"""A node that has published never makes new keys: it refuses to start instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation import keys as keyfiles
from node import create_app
from node.keys import HTTP_KEY, PROOF_KEY, MissingKeys, check_at_start, load_or_create, node_keys
from node.services.organising import posts


def _published_and_restarted(app_config):
    posts.create({"title": "Leaflets are in", "body": "At the office."})  # feed entry 1
    return create_app(app_config)  # the same instance folder (the tests' keys live elsewhere)


def test_a_node_that_has_published_refuses_to_make_new_keys(app, app_config, group):
    restarted = _published_and_restarted(app_config)

    with restarted.app_context(), pytest.raises(MissingKeys) as refused:
        node_keys(restarted)

    message = str(refused.value)
    assert HTTP_KEY in message and PROOF_KEY in message
    assert "branchline backup" in message and "branchline restore" in message
    assert list((Path(restarted.instance_path) / "keys").iterdir()) == []


def test_starting_refuses_when_one_key_file_is_missing(app, app_config, group, node_keys):
    restarted = _published_and_restarted(app_config)
    folder = Path(restarted.instance_path) / "keys"
    folder.mkdir(exist_ok=True)
    keyfiles.write_private_key(folder / HTTP_KEY, node_keys.http)

    with pytest.raises(MissingKeys) as refused:
        check_at_start(restarted)

    assert f"but {PROOF_KEY} is missing" in str(refused.value)
    assert not (folder / PROOF_KEY).exists()


def test_a_node_that_has_not_published_makes_its_keys(app, app_config, group):
    fresh = create_app(app_config)

    with fresh.app_context():
        made = node_keys(fresh)

    again = load_or_create(Path(fresh.instance_path), published=lambda: True)
    assert again.proof_multikey == made.proof_multikey  # read back, not made again
