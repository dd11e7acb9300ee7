"""The block list: matching actors and domains, what a block cuts, and the inbox's 403."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import select

from node.extensions import db
from node.models import Block, Delivery, Follower, Following, Peer, Twinning
from node.services import feed
from node.services.errors import Conflict, Forbidden, Invalid
from node.services.organising import posts
from node.services.peering import blocking, blocks, follows, peers, sync
from tests.node.federation_support import (  # noqa: F401
    OUR_ACTOR,
    FakePeer,
    follow_peer,
    remote,
)

# Matching ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kind", "target"),
    [
        ("Example.ORG", "domain", "example.org"),
        ("*.example.org.", "domain", "example.org"),
        ("https://example.org/", "domain", "example.org"),
        ("Bücher.example", "domain", "xn--bcher-kva.example"),
        ("127.0.0.1:8001", "domain", "127.0.0.1:8001"),
        (
            "HTTPS://Social.Example.org:443/users/Bob#main",
            "actor",
            "https://social.example.org/users/Bob",
        ),
    ],
)
def test_targets_are_normalised(typed, kind, target):
    assert blocks.target_of(typed) == (kind, target)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "acct:bob@example.org",
        "@bob@example.org",
        "localhost",
        "ex ample.org",
        "a" * 2001,
        "ftp://example.org/x",
    ],
)
def test_what_names_no_actor_or_domain_is_refused(typed):
    with pytest.raises(blocks.NotATarget):
        blocks.target_of(typed)


def test_a_domain_block_covers_its_subdomains_case_and_idn_alike(app, group):
    blocking.block("bücher.example", public_comment="spam")
    assert blocks.is_blocked("https://BÜCHER.example/actor")
    assert blocks.is_blocked("https://social.xn--bcher-kva.example/users/x")
    assert blocks.is_blocked("http://deep.social.bücher.example:8443/inbox")
    assert not blocks.is_blocked("https://notbücher.example/actor")
    assert not blocks.is_blocked("https://bücher.example.org/actor")
    assert not blocks.is_blocked("not a url")
    assert blocks.blocked_by("https://a.bücher.example/").public_comment == "spam"


def test_an_actor_block_covers_that_actor_only(app, group):
    blocking.block("https://example.org/users/bob")
    assert blocks.is_blocked("HTTPS://EXAMPLE.org/users/bob")
    assert not blocks.is_blocked("https://example.org/users/alice")
    assert not blocks.is_blocked("https://example.org/users/bob/followers")


def test_a_domain_with_a_port_covers_that_origin_only(app, group):
    blocking.block("127.0.0.1:8001")
    assert blocks.is_blocked("http://127.0.0.1:8001/actor")
    assert not blocks.is_blocked("http://127.0.0.1:8002/actor")
    assert not blocks.block_list().covers("http://127.0.0.1/actor")
    assert blocks.block_list().covers("http://127.0.0.1:8001/inbox")


def test_is_blocked_is_one_query(app, group):
    blocking.block("example.org")
    statements = []
    from sqlalchemy import event

    engine = db.engine

    def count(*_args):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        blocks.is_blocked("https://a.b.c.example.org/users/x")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1


def test_a_block_is_found_past_the_first_query_of_names(app, group):
    # A host of many labels gives more names than one query holds (blocks.SLOTS): the
    # domain blocked is among the last, and a sender with no such domain is still let by.
    blocking.block("example.org")
    labels = ".".join(f"l{n}" for n in range(blocks.SLOTS + 4))
    url = f"https://{labels}.example.org/users/x"
    assert len(blocks.candidates(url)) > blocks.SLOTS + 2
    assert blocks.is_blocked(url)
    assert blocks.blocks_sender(url, [("Signature", f'keyId="{url}#key"')])
    assert not blocks.is_blocked(f"https://{labels}.example.net/users/x")


def test_blocking_twice_or_blocking_ourselves_is_refused(app, group):
    blocking.block("example.org")
    with pytest.raises(Conflict):
        blocking.block("EXAMPLE.org")
    db.session.rollback()
    with pytest.raises(Invalid) as refused:
        blocking.block("http://localhost/actor")  # the test node's own address
    assert "target" in refused.value.fields
    assert db.session.scalar(select(Block.id).where(Block.kind == "actor")) is None


def test_a_block_records_who_when_and_both_comments(app, group, admin):
    severed = blocking.block(
        "example.org", public_comment="harassment", private_comment="ticket 12", by=admin
    )
    row = db.session.get(Block, severed.block.id)
    assert row.created_by_id == admin.id and admin.email in row.created_by
    assert row.public_comment == "harassment" and row.private_comment == "ticket 12"
    assert row.created_at is not None and row.kind == "domain"


def test_overlong_comments_are_refused_naming_the_field(app, group):
    with pytest.raises(Invalid) as refused:
        blocking.block("example.org", private_comment="x" * 1001)
    assert "private_comment" in refused.value.fields


# What a block cuts ---------------------------------------------------------------------


def _follower(peer: FakePeer, mock) -> Peer:
    peer.serve(mock)
    stored = peers.refresh(peer.actor)
    db.session.add(
        Follower(peer_id=stored.id, state="accepted", follow_activity_id=f"{peer.base}/f")
    )
    db.session.commit()
    return stored


def test_block_cancels_waiting_deliveries_and_queues_no_more(app, group, remote):  # noqa: F811
    blocked, kept = FakePeer(2), FakePeer(3)
    _follower(blocked, remote)
    _follower(kept, remote)
    posts.create({"title": "Before", "body": "Hello"})
    waiting = {d.inbox: d.state for d in db.session.scalars(select(Delivery))}
    assert set(waiting) == {f"{blocked.base}/inbox", f"{kept.base}/inbox"}

    severed = blocking.block("127.0.0.2", public_comment="spam")

    states = {
        d.inbox: d.state
        for d in db.session.scalars(select(Delivery).where(Delivery.feed_entry_id.is_not(None)))
    }
    assert states == {f"{blocked.base}/inbox": "cancelled", f"{kept.base}/inbox": "pending"}
    assert severed.deliveries_cancelled == 1 and severed.followers_removed == 1
    # The blocked follower got a Reject, queued after the cancellation: the last word.
    goodbye = db.session.scalars(
        select(Delivery).where(
            Delivery.inbox == f"{blocked.base}/inbox", Delivery.state == "pending"
        )
    ).all()
    assert [json.loads(d.body)["type"] for d in goodbye] == ["Reject"]

    posts.create({"title": "After", "body": "Hello"})
    last = feed.head_seq()
    entry_id = db.session.scalar(select(feed.FeedEntry.id).where(feed.FeedEntry.seq == last))
    after = db.session.scalars(
        select(Delivery.inbox).where(Delivery.feed_entry_id == entry_id)
    ).all()
    assert after == [f"{kept.base}/inbox"]


def test_a_follower_left_behind_gets_no_deliveries(app, group, remote):  # noqa: F811
    blocked = FakePeer(2)
    _follower(blocked, remote)
    db.session.add(Block(kind="domain", target="127.0.0.2", created_by="test"))
    db.session.commit()  # a block written without its effects (by hand, or a crash between)
    posts.create({"title": "After", "body": "Hello"})
    assert db.session.scalars(select(Delivery)).all() == []


def test_block_removes_our_follow_with_an_undo_and_stops_polling(app, group, remote):  # noqa: F811
    peer = FakePeer(2)
    stored = follow_peer(peer, remote)

    severed = blocking.block(peer.actor)

    assert severed.follows_removed == 1 and severed.peers == [peer.actor]
    assert db.session.scalar(select(Following)) is None
    (undo,) = [json.loads(d.body) for d in db.session.scalars(select(Delivery))]
    assert undo["type"] == "Undo" and undo["object"]["type"] == "Follow"
    assert sync.poll_due() == []
    report = sync.catch_up(stored)  # asked directly (a backfill): still nothing fetched
    assert report.skipped.startswith("blocked") and report.pages == 0


def test_following_a_blocked_group_is_refused_before_any_fetch(app, group, remote):  # noqa: F811
    blocking.block("127.0.0.2")
    with pytest.raises(Forbidden):
        follows.follow("acct:group2@127.0.0.2")
    with pytest.raises(Forbidden):
        follows.follow("http://127.0.0.2/actor")
    assert not [call for call in remote.calls]


def _twin_with(peer: Peer) -> None:
    """Add an active twinning this group proposed to ``peer`` (not committed)."""
    db.session.add(
        Twinning(
            peer_id=peer.id,
            state="active",
            direction="outgoing",
            relationship_id="http://localhost/twins/1",
            offer_activity_id="http://localhost/outbox/1",
        )
    )


def test_block_ends_a_twinning(app, group, remote):  # noqa: F811
    peer = FakePeer(2)
    stored = follow_peer(peer, remote)
    _twin_with(stored)
    db.session.commit()

    severed = blocking.block("127.0.0.2")

    assert severed.twinnings_ended == 1
    assert db.session.scalar(select(Twinning)).state == "ended"


def test_unblock_removes_the_row_only(app, group, remote):  # noqa: F811
    peer = FakePeer(2)
    follow_peer(peer, remote)
    severed = blocking.block("127.0.0.2")
    blocking.unblock(severed.block)
    assert not blocks.is_blocked(peer.actor)
    assert db.session.scalar(select(Following)) is None  # not followed again by itself


# The inbox -----------------------------------------------------------------------------


def test_inbox_refuses_a_blocked_actor_with_403_without_fetching_its_key(client, remote):  # noqa: F811
    peer = FakePeer(2)
    blocking.block("127.0.0.2")
    response = peer.post(client, peer.activity("Follow", OUR_ACTOR))
    assert response.status_code == 403
    assert response.get_json()["error"].startswith("blocked")
    assert db.session.scalar(select(Follower)) is None
    assert not remote.calls  # its actor document (and key) was never fetched


def test_inbox_refuses_a_blocked_peers_feed_entry(client, remote):  # noqa: F811
    peer = FakePeer(2)
    follow_peer(peer, remote)
    entry = peer.entry("Create", peer.event("rally", "Rally"))
    db.session.add(Block(kind="actor", target=peer.actor, created_by="test"))
    db.session.commit()
    response = peer.post(client, entry)
    assert response.status_code == 403
    assert db.session.scalar(select(Peer).where(Peer.actor_id == peer.actor)).held_seq == 0


def test_inbox_refuses_a_key_on_a_blocked_domain_even_for_another_actor(client, remote):  # noqa: F811
    peer, other = FakePeer(2), FakePeer(3)
    blocking.block("127.0.0.3")
    response = peer.post(client, peer.activity("Follow", OUR_ACTOR), key_id=other.key_id)
    assert response.status_code == 403


def test_inbox_still_accepts_others(client, remote):  # noqa: F811
    blocking.block("127.0.0.3")
    peer = FakePeer(2)
    peer.serve(remote)
    assert peer.post(client, peer.activity("Follow", OUR_ACTOR)).status_code == 202


def test_a_quiet_block_sends_nothing_at_all(app, group, remote):  # noqa: F811
    peer = FakePeer(2)
    stored = follow_peer(peer, remote)
    db.session.add(Follower(peer_id=stored.id, state="accepted", follow_activity_id="f"))
    db.session.commit()

    severed = blocking.block("127.0.0.2", notify=False)

    assert severed.follows_removed == severed.followers_removed == 1
    states = {d.state for d in db.session.scalars(select(Delivery))}
    assert states == {"cancelled"}


def test_a_quiet_block_never_commits_a_goodbye_a_worker_could_claim(app, group, remote):  # noqa: F811
    # The node's own worker claims pending deliveries between any two of the block's commits;
    # what it could have claimed is what a separate connection sees waiting after each one.
    peer = FakePeer(2)
    stored = follow_peer(peer, remote)
    db.session.add(Follower(peer_id=stored.id, state="accepted", follow_activity_id="f"))
    _twin_with(stored)
    db.session.commit()
    claimable: list[bool] = []

    def look(_session) -> None:
        with db.engine.connect() as worker:
            claimable.append(
                worker.execute(
                    select(Delivery.id).where(Delivery.state == "pending").limit(1)
                ).first()
                is not None
            )

    session = db.session()
    sqlalchemy_event.listen(session, "after_commit", look)
    try:
        severed = blocking.block("127.0.0.2", notify=False)
    finally:
        sqlalchemy_event.remove(session, "after_commit", look)

    assert severed.twinnings_ended == severed.follows_removed == severed.followers_removed == 1
    assert len(claimable) >= 3 and not any(claimable)
    queued = db.session.scalars(select(Delivery)).all()
    assert len(queued) == severed.deliveries_cancelled == 3  # twinning's Undo, Undo, Reject
    assert {d.state for d in queued} == {"cancelled"}
