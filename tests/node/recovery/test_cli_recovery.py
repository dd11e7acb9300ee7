"""`branchline backup`, `restore` and `recover`, run as an operator runs them."""

from __future__ import annotations

import pytest

from node.services.recovery import guard
from tests.conftest import TEST_DATABASE_URL
from tests.node.test_cli import Cli


@pytest.fixture
def cli(tmp_path, database_url):
    runner = Cli(tmp_path / "instance", database_url)
    assert runner.init().exit_code == 0
    yield runner
    runner.close()


def test_backup_then_restore_without_force_is_refused_on_a_live_node(cli, tmp_path):
    made = cli("backup", str(tmp_path / "backup"))
    assert made.exit_code == 0, made.output
    assert "owner-only" in made.output

    refused = cli("restore", str(tmp_path / "backup"))

    assert refused.exit_code == 1
    assert "--force" in refused.output
    assert guard.pending(cli.instance) is None


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="pg_restore is covered by the integration test")
def test_restore_holds_publishing_and_says_what_the_network_cannot_give_back(cli, tmp_path):
    cli("backup", str(tmp_path / "backup"))

    restored = cli("restore", str(tmp_path / "backup"), "--force")

    assert restored.exit_code == 0, restored.output
    assert "Publishing is held" in restored.output
    assert "private data" in restored.output
    assert "held since the restore" in cli("recover", "--status").output


def test_force_publish_releases_publishing(cli):
    guard.hold(cli.instance, {})

    released = cli("recover", "--force-publish")

    assert released.exit_code == 0, released.output
    assert "without reconciling" in released.output
    assert guard.pending(cli.instance) is None
    assert "not held" in cli("recover").output


def test_recover_wants_one_way_to_release(cli):
    guard.hold(cli.instance, {})

    answer = cli("recover", "--from", "http://127.0.0.1:9", "--force-publish")

    assert answer.exit_code == 1 and "one of" in answer.output
    assert guard.pending(cli.instance) is not None
