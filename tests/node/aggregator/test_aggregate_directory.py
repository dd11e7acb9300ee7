"""An aggregator's directory: the role, adding groups, listing requests, removal, key changes."""

from __future__ import annotations

import json

import pytest
import responses
from sqlalchemy import select

from federation import keys
from node.extensions import db
from node.models import Delivery, Follower, Following, Listing, Peer
from node.services import role
from node.services.aggregator import combined_feed, directory, listings
from node.services.errors import Conflict, ServiceError
from node.services.peering import peers
from tests.node.aggregate_support import (
    AGGREGATOR,
    FakeGroup,
    held_seqs,
    listing,
    web,  # noqa: F401 - a fixture
)
from tests.node.federation_support import ACTIVITY_JSON, OUR_ACTOR, FakePeer


@pytest.fixture
def app_config(app_config):
    return {**app_config, **AGGREGATOR}


def _sent() -> list[dict]:
    rows = db.session.scalars(select(Delivery).order_by(Delivery.id))
    return [json.loads(row.body) for row in rows]


def _add(group: FakeGroup, mock, **options) -> directory.Added:
    group.serve(mock)
    return directory.add(f"acct:group{group.n}@127.0.0.{group.n}", **options)


def _served() -> list[str]:
    rows, _more = combined_feed.page(0, 500)
    return [body for _cursor, _at, body in rows]


# The role ------------------------------------------------------------------------------


def test_aggregator_actor_names_its_role_and_combined_feed(client):
    actor = client.get("/actor", headers={"Accept": "application/activity+json"}).get_json()

    assert actor["nodeRole"] == "aggregator"
    assert actor["aggregateFeed"] == "http://localhost/aggregate/feed"
    # Both terms are defined in the actor's own context, so JSON-LD readers keep them.
    terms = actor["@context"][-1]
    assert "nodeRole" in terms and "aggregateFeed" in terms


def test_an_ordinary_node_names_no_role(app, client):
    app.config["ROLE"] = "group"

    actor = client.get("/actor", headers={"Accept": "application/activity+json"}).get_json()

    assert "nodeRole" not in actor and "aggregateFeed" not in actor
    assert not role.is_aggregator()


def test_the_stored_role_makes_an_aggregator_without_the_setting(app, group):
    app.config["ROLE"] = "node"
    assert not role.is_aggregator()

    role.set_role(group, "aggregator")

    assert role.is_aggregator()
    with pytest.raises(ServiceError):
        role.set_role(group, "emperor")


def test_directory_changes_are_refused_on_an_ordinary_node(app, group, web):  # noqa: F811
    app.config["ROLE"] = "node"

    with pytest.raises(Conflict, match="not an aggregator"):
        _add(FakeGroup(2), web)


# Adding groups -------------------------------------------------------------------------


def test_adding_a_group_lists_it_follows_it_and_backfills_its_feed(group, web):  # noqa: F811
    hull = FakeGroup(2)
    for slug in ("canvass", "stall", "rally"):
        hull.create(slug)

    added = _add(hull, web)

    found = listing(hull.actor)
    assert (found.state, found.source, found.kind) == ("listed", "command", "group")
    assert added.created and added.backfill.applied == 3
    assert held_seqs(hull.actor) == [1, 2, 3]
    following = db.session.scalar(select(Following))
    assert following.peer.actor_id == hull.actor
    (follow,) = _sent()
    assert follow["type"] == "Follow" and follow["object"] == hull.actor
    # Its keys at listing time are the ones its later entries must keep verifying with.
    assert found.proof_keys == found.peer.assertion_keys != "{}"
    assert combined_feed.admit() == 3
    assert [json.loads(body) for body in _served()] == hull.entries


def test_adding_without_backfill_leaves_the_pull_to_the_worker(group, web):  # noqa: F811
    hull = FakeGroup(2)
    hull.create("canvass")

    added = _add(hull, web, backfill=False)

    assert added.backfill is None and held_seqs(hull.actor) == []
    assert listing(hull.actor).peer.next_poll_at is not None


def test_adding_a_group_twice_is_a_conflict(group, web):  # noqa: F811
    hull = FakeGroup(2)
    _add(hull, web)

    with pytest.raises(Conflict, match="already listed"):
        directory.add(hull.actor)


def test_a_fediverse_account_is_not_listed(group, web):  # noqa: F811
    account = FakePeer(3, actor_type="Person", branchline=False)
    account.serve(web)

    with pytest.raises(peers.PeerError, match="no signed Branchline feed"):
        directory.add(account.actor)
    assert listing(account.actor) is None


@pytest.mark.parametrize("target", ["", "not a handle", "x" * 2001])
def test_adding_nonsense_names_the_field(group, target):
    with pytest.raises(ServiceError) as refused:
        directory.add(target)
    assert "target" in refused.value.fields


# Requests: a group's Follow ------------------------------------------------------------


def _ask(client, peer: FakePeer, mock) -> None:
    peer.serve(mock)
    response = peer.post(client, peer.activity("Follow", OUR_ACTOR))
    assert response.status_code == 202, response.get_json()


def test_a_groups_follow_waits_as_a_request_to_be_listed(client, web):  # noqa: F811
    hull = FakeGroup(2)

    _ask(client, hull, web)

    follower = db.session.scalar(select(Follower))
    assert follower.state == "pending"
    assert _sent() == []  # no Accept until an admin approves
    found = listing(hull.actor)
    assert (found.state, found.source) == ("requested", "request")
    assert [waiting.peer.actor_id for waiting in directory.requests()] == [hull.actor]


def test_approving_a_request_accepts_it_and_follows_the_group_back(client, web):  # noqa: F811
    hull = FakeGroup(2)
    hull.create("canvass")
    _ask(client, hull, web)

    directory.approve(listing(hull.actor))

    found = listing(hull.actor)
    assert (found.state, found.source) == ("listed", "request")
    assert db.session.scalar(select(Follower)).state == "accepted"
    kinds = {message["type"]: message for message in _sent()}
    assert set(kinds) == {"Accept", "Follow"}
    assert kinds["Follow"]["object"] == hull.actor
    assert db.session.scalar(select(Following)).peer.actor_id == hull.actor
    assert directory.requests() == []


def test_refusing_a_request_rejects_the_follow_and_keeps_the_reason(client, web):  # noqa: F811
    hull = FakeGroup(2)
    _ask(client, hull, web)

    directory.refuse(listing(hull.actor), "Not a branch of ours.")

    found = listing(hull.actor)
    assert (found.state, found.reason) == ("refused", "Not a branch of ours.")
    assert [message["type"] for message in _sent()] == ["Reject"]
    assert db.session.scalar(select(Follower)) is None
    assert db.session.scalar(select(Following)) is None


def test_a_refusal_reason_has_a_limit(client, web):  # noqa: F811
    hull = FakeGroup(2)
    _ask(client, hull, web)

    with pytest.raises(ServiceError) as refused:
        directory.refuse(listing(hull.actor), "x" * 501)
    assert "reason" in refused.value.fields


def test_a_listed_groups_follow_is_accepted_at_once(client, web):  # noqa: F811
    hull = FakeGroup(2)
    _add(hull, web)

    _ask(client, hull, web)

    assert db.session.scalar(select(Follower)).state == "accepted"
    assert "Accept" in [message["type"] for message in _sent()]
    assert listing(hull.actor).state == "listed"


def test_a_fediverse_account_follows_as_on_any_node(client, web):  # noqa: F811
    account = FakePeer(3, actor_type="Person", branchline=False)

    _ask(client, account, web)

    assert db.session.scalar(select(Follower)).state == "accepted"
    assert listing(account.actor) is None


def test_another_aggregator_asking_to_be_listed_becomes_a_source(client, web):  # noqa: F811
    from tests.node.aggregate_support import FakeAggregator

    regional = FakeAggregator(4)
    _ask(client, regional, web)

    directory.approve(listing(regional.actor))

    found = listing(regional.actor)
    assert (found.kind, found.state, found.feed_url) == ("aggregator", "listed", regional.feed_url)
    assert db.session.scalar(select(Following)) is None  # its combined feed is pulled instead


# Removing ------------------------------------------------------------------------------


def test_removing_a_group_unfollows_it_and_stops_serving_it(group, web):  # noqa: F811
    hull = FakeGroup(2)
    hull.create("canvass")
    hull.create("stall")
    _add(hull, web)
    combined_feed.admit()
    first_cursors = [cursor for cursor, _at, _body in combined_feed.page(0, 10)[0]]

    directory.remove(listing(hull.actor), "Merged into Hull East.")

    found = listing(hull.actor)
    assert (found.state, found.reason, found.served_seq) == ("removed", "Merged into Hull East.", 0)
    assert _served() == [] and combined_feed.total() == 0
    assert db.session.scalar(select(Following)) is None
    assert [message["type"] for message in _sent()][-1] == "Undo"
    with pytest.raises(Conflict):
        directory.remove(found)

    # Listed again: its whole chain is served again, after whatever a reader saw before.
    directory.approve(found)
    combined_feed.admit()
    again = combined_feed.page(0, 10)[0]
    assert [json.loads(body)["seq"] for _cursor, _at, body in again] == [1, 2]
    assert min(cursor for cursor, _at, _body in again) > max(first_cursors)


# Key changes ---------------------------------------------------------------------------


def test_a_proof_key_changed_without_a_rotation_is_never_held_nor_served(client, web):  # noqa: F811
    hull = FakeGroup(2)
    hull.create("canvass")
    _add(hull, web)
    assert combined_feed.admit() == 1

    # The group's proof key changes under the same id, with no rotation entry proving it.
    hull.proof_key = keys.generate_ed25519_key()
    web.replace(
        responses.GET,
        hull.actor,
        body=json.dumps(hull.actor_document()),
        content_type=ACTIVITY_JSON,
    )
    peers.refresh(hull.actor)
    db.session.commit()
    hull.post(client, hull.create("stall"))

    assert held_seqs(hull.actor) == [1]
    assert combined_feed.admit() == 0
    assert [json.loads(body)["seq"] for body in _served()] == [1]
    assert listing(hull.actor).peer.state == "chain_broken"


def test_a_rotation_its_feed_proves_is_served_without_an_admin(client, web):  # noqa: F811
    hull = FakeGroup(2)
    hull.create("canvass")
    _add(hull, web)
    assert combined_feed.admit() == 1

    rotation = hull.rotate()
    web.replace(
        responses.GET,
        hull.actor,
        body=json.dumps(hull.actor_document()),
        content_type=ACTIVITY_JSON,
    )
    assert hull.post(client, rotation).status_code == 202
    assert hull.post(client, hull.create("stall")).status_code == 202
    assert held_seqs(hull.actor) == [1, 2, 3]

    assert combined_feed.admit() == 2
    assert [json.loads(body)["seq"] for body in _served()] == [1, 2, 3]
    assert listings.sync_state(listing(hull.actor)).code == "in_step"


def test_a_listed_groups_changed_key_values_wait_for_an_admin(client, web):  # noqa: F811
    hull = FakeGroup(2)
    hull.create("canvass")
    _add(hull, web)
    assert combined_feed.admit() == 1
    found = listing(hull.actor)
    found.proof_keys = json.dumps({hull.proof_key_id: "z6MkSomethingElse"})  # listed before
    db.session.commit()
    hull.post(client, hull.create("stall"))

    assert combined_feed.admit() == 0
    assert listings.sync_state(listing(hull.actor)).code == "key_changed"

    directory.approve(listing(hull.actor))  # an admin trusts the keys as they are

    assert combined_feed.admit() == 1
    assert [json.loads(body)["seq"] for body in _served()] == [1, 2]


# Reading the directory -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "label", "code"),
    [
        ({"held_seq": 4, "head_seq": 4, "state": "in_step"}, "in step", "in_step"),
        ({"held_seq": 4, "head_seq": 7, "state": "behind"}, "behind 3", "behind"),
        ({"state": "unreachable", "state_reason": "timed out"}, "unreachable", "unreachable"),
        (
            {"held_seq": 6, "state": "chain_broken", "state_reason": "entry 7: bad-proof: no"},
            "chain broken at seq 7: bad-proof: no",
            "chain_broken",
        ),
        (
            {"state": "key_changed", "state_reason": "key changed on 2030-01-01"},
            "key changed: key changed on 2030-01-01",
            "key_changed",
        ),
    ],
)
def test_sync_state_reads_as_the_directory_says(group, fields, label, code):
    peer = Peer(actor_id="http://127.0.0.2/actor", is_branchline=True, **fields)
    db.session.add(peer)
    db.session.flush()
    found = Listing(peer_id=peer.id, peer=peer, state="listed", kind="group")
    db.session.add(found)
    db.session.commit()

    state = listings.sync_state(found)

    assert (state.label, state.code) == (label, code)


def test_directory_rows_carry_the_last_entry_time(group, web):  # noqa: F811
    hull, york = FakeGroup(2), FakeGroup(3)
    hull.create("canvass")
    _add(hull, web)
    _add(york, web)

    rows = {row.listing.peer.actor_id: row for row in directory.rows()}

    assert rows[hull.actor].last_activity is not None
    assert rows[york.actor].last_activity is None
    assert rows[hull.actor].sync.label == "in step"
    assert directory.find("group2@127.0.0.2").peer.actor_id == hull.actor
    assert directory.find(hull.actor).peer.actor_id == hull.actor


def test_a_group_that_undoes_its_follow_withdraws_its_request(client, web):  # noqa: F811
    hull = FakeGroup(2)
    _ask(client, hull, web)
    follow = db.session.scalar(select(Follower)).follow_activity_id

    undo = hull.activity("Undo", {"id": follow, "type": "Follow", "actor": hull.actor})
    assert hull.post(client, undo).status_code == 202

    found = listing(hull.actor)
    assert found.state == "removed" and "withdrew" in found.reason
    assert directory.requests() == []


def test_a_group_learned_from_a_source_can_be_listed_in_its_own_right(group, web):  # noqa: F811
    from node.services.aggregator import sources
    from tests.node.aggregate_support import FakeAggregator

    hull = FakeGroup(2)
    hull.create("canvass")
    regional = FakeAggregator(4, served=list(hull.entries))
    for found in (hull, regional):
        found.serve(web)
    directory.add(regional.actor)
    sources.pull(listing(regional.actor))
    assert listing(hull.actor).source == "aggregator"

    directory.add(hull.actor)

    assert listing(hull.actor).source == "command"
    assert db.session.scalar(select(Following)).peer.actor_id == hull.actor
