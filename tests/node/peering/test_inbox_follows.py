"""The inbox's follow handshake: Follow, Undo, Accept and Reject between groups."""

from __future__ import annotations

import json

from sqlalchemy import select

from federation.jcs import canonicalize
from federation.proofs import verify_object
from node.extensions import db
from node.models import Delivery, Follower, Following, Peer, ReceivedActivity
from node.services.peering import follows
from tests.node.federation_support import OUR_ACTOR, FakePeer, follow_peer, remote  # noqa: F401


def _deliveries() -> list[dict]:
    return [json.loads(d.body) for d in db.session.scalars(select(Delivery).order_by(Delivery.id))]


def test_follow_is_accepted_and_an_accept_is_queued(client, remote, node_keys):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    follow = peer.activity("Follow", OUR_ACTOR)

    response = peer.post(client, follow)

    assert response.status_code == 202, response.get_json()
    follower = db.session.scalar(select(Follower))
    assert follower.state == "accepted" and follower.peer.actor_id == peer.actor
    (delivery,) = db.session.scalars(select(Delivery))
    assert delivery.inbox == f"{peer.base}/inbox" and delivery.body
    accept = json.loads(delivery.body)
    assert accept["type"] == "Accept" and accept["actor"] == OUR_ACTOR
    assert accept["object"]["id"] == follow["id"]
    assert accept["id"].startswith("http://localhost/activities/")
    assert delivery.body == canonicalize(accept).decode()
    verify_object(accept, lambda _key_id: node_keys.proof.public_key())


def test_follow_waits_for_an_organiser_when_approval_is_on(client, group, remote):  # noqa: F811
    group.follow_approval = True
    db.session.commit()
    peer = FakePeer(2)
    peer.serve(remote)

    assert peer.post(client, peer.activity("Follow", OUR_ACTOR)).status_code == 202

    follower = db.session.scalar(select(Follower))
    assert follower.state == "pending"
    assert _deliveries() == []
    follows.approve(follower)
    assert follower.state == "accepted"
    assert [d["type"] for d in _deliveries()] == ["Accept"]


def test_rejecting_a_waiting_follower_tells_it_and_forgets_it(client, group, remote):  # noqa: F811
    group.follow_approval = True
    db.session.commit()
    peer = FakePeer(2)
    peer.serve(remote)
    peer.post(client, peer.activity("Follow", OUR_ACTOR))

    follows.reject(db.session.scalar(select(Follower)))

    assert db.session.scalar(select(Follower)) is None
    assert [d["type"] for d in _deliveries()] == ["Reject"]


def test_follow_of_someone_else_is_accepted_and_ignored(client, remote):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    response = peer.post(client, peer.activity("Follow", "http://localhost/someone-else"))
    assert response.status_code == 202
    assert db.session.scalar(select(Follower)) is None


def test_undo_follow_removes_the_follower(client, remote):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    follow = peer.activity("Follow", OUR_ACTOR)
    peer.post(client, follow)

    undo = peer.activity("Undo", follow, name="undo")
    assert peer.post(client, undo).status_code == 202

    assert db.session.scalar(select(Follower)) is None


def test_accept_of_our_follow_marks_the_following_accepted(client, remote):  # noqa: F811
    peer = FakePeer(2)
    stored = follow_peer(peer, remote, state="pending")
    ours = db.session.scalar(select(Following)).follow_activity_id

    accept = peer.activity("Accept", {"id": ours, "type": "Follow", "actor": OUR_ACTOR})
    assert peer.post(client, accept).status_code == 202

    assert db.session.scalar(select(Following)).state == "accepted"
    assert stored.next_poll_at is not None


def test_reject_of_our_follow_marks_the_following_rejected(client, remote):  # noqa: F811
    peer = FakePeer(2)
    follow_peer(peer, remote, state="pending")
    ours = db.session.scalar(select(Following)).follow_activity_id

    assert peer.post(client, peer.activity("Reject", ours)).status_code == 202

    assert db.session.scalar(select(Following)).state == "rejected"


def test_unknown_activity_types_are_accepted_and_recorded_once(client, remote):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    like = peer.activity("Like", "http://localhost/events/1")

    assert peer.post(client, like).status_code == 202
    assert peer.post(client, like).status_code == 202

    assert db.session.scalars(select(ReceivedActivity)).all()[0].activity_id == like["id"]
    assert len(db.session.scalars(select(ReceivedActivity)).all()) == 1


def test_follow_resolves_a_handle_and_queues_a_signed_follow(app, remote, node_keys):  # noqa: F811
    peer = FakePeer(3)
    peer.serve(remote)

    following = follows.follow("acct:group3@127.0.0.3")

    assert following.state == "pending"
    peer_row = db.session.scalar(select(Peer))
    assert peer_row.actor_id == peer.actor and peer_row.is_branchline
    assert peer_row.handle == "group3@127.0.0.3"
    (follow,) = _deliveries()
    assert follow["type"] == "Follow" and follow["object"] == peer.actor
    assert follow["id"] == following.follow_activity_id


def test_unfollow_queues_an_undo_and_forgets_the_follow(app, remote):  # noqa: F811
    peer = FakePeer(3)
    peer.serve(remote)
    following = follows.follow(peer.actor)

    follows.unfollow(follows.find_following("group3@127.0.0.3"))

    assert db.session.scalar(select(Following)) is None
    undo = _deliveries()[-1]
    assert undo["type"] == "Undo" and undo["object"]["id"] == following.follow_activity_id
