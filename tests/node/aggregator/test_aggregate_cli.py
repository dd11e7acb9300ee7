"""`branchline aggregate …` and `branchline init --aggregator`, run as an operator runs them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from node.cli.aggregate import group as aggregate_cli
from node.extensions import db
from node.models import Follower, Group
from node.services import role
from node.services.aggregator import combined_feed
from tests.node.aggregate_support import (
    AGGREGATOR,
    FakeAggregator,
    FakeGroup,
    held_seqs,
    listing,
    web,  # noqa: F401 - a fixture
)
from tests.node.federation_support import OUR_ACTOR
from tests.node.test_cli import Cli, cli, node  # noqa: F401 - fixtures


@pytest.fixture
def app_config(app_config):
    return {**app_config, **AGGREGATOR}


@pytest.fixture
def run(app, group):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        result = runner.invoke(aggregate_cli, list(args))
        db.session.expire_all()
        return result

    return invoke


def _groups(web, *numbers: int, entries: int = 2) -> list[FakeGroup]:  # noqa: F811
    found = []
    for n in numbers:
        peer = FakeGroup(n)
        for index in range(entries):
            peer.create(f"event-{index}")
        peer.serve(web)
        found.append(peer)
    return found


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


# The role ------------------------------------------------------------------------------


def test_init_aggregator_keeps_the_role_without_the_setting(cli, node):  # noqa: F811
    result = cli(
        "init",
        "--name",
        "Momentum North",
        "--handle",
        "north",
        "--base-url",
        "https://north.branchline.test",
        "--admin-email",
        "admin@example.org",
        "--aggregator",
    )

    assert result.exit_code == 0, result.output
    assert "as an aggregator" in result.output
    with node.app_context():
        assert db.session.scalar(select(Group.role)) == "aggregator"
        assert role.is_aggregator()
        actor = node.test_client().get("/actor", headers={"Accept": "application/activity+json"})
        assert actor.get_json()["nodeRole"] == "aggregator"
    listed = cli("aggregate", "list")
    assert listed.exit_code == 0, listed.output
    assert "The directory is empty." in listed.output


def test_init_without_the_flag_makes_an_ordinary_group(cli, node):  # noqa: F811
    assert cli.init().exit_code == 0
    with node.app_context():
        assert db.session.scalar(select(Group.role)) == "group"
        assert not role.is_aggregator()
    refused = cli("aggregate", "list")
    assert refused.exit_code == 1 and "not an aggregator" in refused.output


# Adding and listing --------------------------------------------------------------------


def test_add_lists_follows_and_backfills_a_group(run, web):  # noqa: F811
    (hull,) = _groups(web, 2)

    result = run("add", "acct:group2@127.0.0.2")

    assert result.exit_code == 0, result.output
    assert f"Listed Group 2 ({hull.actor}); following it." in result.output
    assert "Applied 2 entries; holding seq 2/2." in result.output
    assert held_seqs(hull.actor) == [1, 2] and combined_feed.total() == 2


def test_add_refuses_what_it_cannot_list(run, web):  # noqa: F811
    result = run("add", "nonsense")

    assert result.exit_code == 1
    assert "Give a handle like acct:group@example.org" in result.output


def test_list_shows_each_groups_sync_state(run, web):  # noqa: F811
    hull, york = _groups(web, 2, 3)
    run("add", hull.actor)
    run("add", york.actor, "--no-backfill")
    peer = listing(york.actor).peer
    peer.head_seq = 2
    db.session.commit()

    result = run("list")

    assert result.exit_code == 0, result.output
    header, *rows = _lines(result.output)
    assert header.split() == [
        "NAME",
        "HANDLE",
        "LISTING",
        "SYNC",
        "HELD",
        "HEAD",
        "LAST",
        "ACTIVITY",
    ]
    by_handle = {row.split("  ")[0]: row for row in rows}
    assert "in step" in by_handle["Group 2"] and " 2 " in by_handle["Group 2"]
    assert "behind 2" in by_handle["Group 3"]
    assert "group3@127.0.0.3" in by_handle["Group 3"]


# Importing a CSV file ------------------------------------------------------------------


def test_import_adds_the_good_rows_and_reports_the_bad_ones(run, web, tmp_path):  # noqa: F811
    hull, york = _groups(web, 2, 3)
    sheet = tmp_path / "groups.csv"
    sheet.write_text(
        "name,group\n"
        f"Hull,acct:group2@127.0.0.2\n"
        "Nowhere,\n"
        "Typo,not a handle\n"
        "Gone,acct:gone@127.0.0.7\n"
        "\n"
        f"York,{york.actor}\n"
        "Hull again,@group2@127.0.0.2\n",
        encoding="utf-8",
    )

    result = run("import", str(sheet))

    assert result.exit_code == 1, result.output
    lines = _lines(result.output)
    assert lines[0] == f"row 2: listed Group 2 ({hull.actor})"
    assert lines[1] == "row 3: skipped (empty): no group given"
    assert lines[2].startswith("row 4: skipped not a handle: Give a handle like")
    assert lines[3].startswith("row 5: skipped acct:gone@127.0.0.7: Could not look up")
    assert any(line == f"row 7: listed Group 3 ({york.actor})" for line in lines)
    assert any(line.startswith("row 8: skipped @group2@127.0.0.2: ") for line in lines)
    assert "already listed" in result.output
    assert lines[-1] == "2 added, 4 skipped."
    assert {listing(found.actor).source for found in (hull, york)} == {"csv"}
    assert held_seqs(york.actor) == [1, 2]


def test_import_takes_the_first_column_without_a_header(run, web, tmp_path):  # noqa: F811
    hull, york = _groups(web, 2, 3)
    sheet = tmp_path / "groups.csv"
    sheet.write_text(f"{hull.actor},Hull\n{york.actor},York\n", encoding="utf-8-sig")

    result = run("import", str(sheet), "--no-backfill")

    assert result.exit_code == 0, result.output
    assert _lines(result.output)[-1] == "2 added, 0 skipped."
    assert held_seqs(hull.actor) == []  # the worker will pull them


def test_import_refuses_a_file_that_is_not_text(run, tmp_path):
    sheet = tmp_path / "groups.csv"
    sheet.write_bytes(b"\xff\xfe\x00g\x00r")

    result = run("import", str(sheet))

    assert result.exit_code == 1 and "not UTF-8" in result.output


# Requests and decisions ----------------------------------------------------------------


def _ask(client, web, n: int) -> FakeGroup:  # noqa: F811
    peer = FakeGroup(n)
    peer.serve(web)
    assert peer.post(client, peer.activity("Follow", OUR_ACTOR)).status_code == 202
    return peer


def test_requests_can_be_approved_and_refused(run, client, web):  # noqa: F811
    hull, york = _ask(client, web, 2), _ask(client, web, 3)

    waiting = run("requests")
    assert waiting.exit_code == 0
    assert [line.split()[0:2] for line in _lines(waiting.output)[1:]] == [
        ["Group", "2"],
        ["Group", "3"],
    ]

    approved = run("approve", "group2@127.0.0.2")
    refused = run("refuse", york.actor, "--reason", "Not one of ours.")

    assert approved.exit_code == 0 and "Group 2 is listed." in approved.output
    assert refused.exit_code == 0 and "Group 3 was refused." in refused.output
    assert listing(hull.actor).state == "listed"
    assert (listing(york.actor).state, listing(york.actor).reason) == (
        "refused",
        "Not one of ours.",
    )
    assert db.session.scalar(select(Follower)).peer.actor_id == hull.actor
    assert "No group is asking" in run("requests").output


def test_remove_and_unknown_groups(run, web):  # noqa: F811
    (hull,) = _groups(web, 2)
    run("add", hull.actor)

    removed = run("remove", hull.actor, "--reason", "Wound up.")
    again = run("remove", hull.actor)
    unknown = run("approve", "nobody@127.0.0.9")

    assert removed.exit_code == 0 and "was removed from the directory" in removed.output
    assert again.exit_code == 1 and "not in the directory any more" in again.output
    assert unknown.exit_code == 1 and "is not in the directory" in unknown.output
    assert "removed" in run("list", "--state", "removed").output


# Sources -------------------------------------------------------------------------------


def test_sync_pulls_a_source_from_its_cursor(run, web):  # noqa: F811
    hull, york = _groups(web, 2, 3)
    regional = FakeAggregator(4, served=[*hull.entries, *york.entries])
    regional.serve(web)

    added = run("add", regional.actor, "--no-backfill")
    assert added.exit_code == 0 and "as a source" in added.output
    synced = run("sync")

    assert synced.exit_code == 0, synced.output
    assert "4 entries applied from 2 group(s), 0 quarantined" in synced.output
    assert "The combined feed serves 4 entries." in synced.output
    listed = run("list").output
    assert "listed (aggregator)" in listed and "cursor c3" in listed
    assert held_seqs(york.actor) == [1, 2]
