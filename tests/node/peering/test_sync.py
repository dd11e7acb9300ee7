"""Catch-up: a followed peer's outbox is pulled page by page, applied in order once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models.federation import Peer, RemoteEntry
from node.services.peering import sync
from tests.federation.local_http import LocalServer
from tests.node import sync_support as support


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8",
        "FETCH_READ_TIMEOUT": 1,
        "FETCH_TOTAL_TIMEOUT": 3,
        "SYNC_PAGE_SIZE": 4,
        "POLL_INTERVAL_SECONDS": 300,
    }


@pytest.fixture
def server():
    running = LocalServer()
    yield running
    running.stop()


def _held(peer_id: int) -> list[int]:
    return list(
        db.session.scalars(
            select(RemoteEntry.seq).where(RemoteEntry.peer_id == peer_id).order_by(RemoteEntry.id)
        )
    )


def _peer(peer_id: int) -> Peer:
    db.session.expire_all()
    return db.session.get(Peer, peer_id)


def test_catch_up_applies_every_entry_in_order_once(app, group, server):
    feed = support.RemoteFeed(server, size=10)
    peer = feed.peer()
    seen: list[tuple[int, int]] = []

    report = sync.catch_up(peer, progress=lambda held, head: seen.append((held, head)))

    assert report.ok, report
    assert (report.applied, report.held_seq, report.head_seq, report.pages) == (10, 10, 10, 3)
    assert _held(peer.id) == list(range(1, 11))
    assert feed.requested_after() == [0, 4, 8]
    assert seen == [(4, 10), (8, 10), (10, 10)]
    stored = _peer(peer.id)
    assert (stored.state, stored.held_hash) == ("in_step", report_hash(feed))
    assert stored.last_contact_at is not None


def report_hash(feed: support.RemoteFeed) -> str:
    from federation.feed import entry_hash

    return entry_hash(feed.entries[-1])


def test_catch_up_resumes_where_it_stopped(app, group, server):
    feed = support.RemoteFeed(server, size=10, fail_after={4})
    peer = feed.peer()

    first = sync.catch_up(peer)
    assert first.error and "500" in first.error
    assert _peer(peer.id).held_seq == 4

    # A restart: a fresh look at the peer, as a new process would have.
    second = sync.catch_up(_peer(peer.id))

    assert second.ok, second
    assert second.applied == 6
    assert feed.requested_after() == [0, 4, 4, 8]
    assert _held(peer.id) == list(range(1, 11))


def test_catch_up_with_nothing_new_asks_once_and_applies_nothing(app, group, server):
    feed = support.RemoteFeed(server, size=3)
    peer = feed.peer()
    sync.catch_up(peer)

    again = sync.catch_up(_peer(peer.id))

    assert (again.applied, again.held_seq, again.head_seq) == (0, 3, 3)
    assert feed.requested_after() == [0, 3]
    assert _held(peer.id) == [1, 2, 3]


def test_catch_up_picks_up_entries_published_later(app, group, server):
    feed = support.RemoteFeed(server, size=5)
    peer = feed.peer()
    sync.catch_up(peer)
    more = support.RemoteFeed(server, size=8, key=feed.key)  # the same group, 3 entries on

    report = sync.catch_up(_peer(peer.id))

    assert more.entries[:5] == feed.entries
    assert (report.applied, report.held_seq) == (3, 8)
    assert _held(peer.id) == list(range(1, 9))


def test_catch_up_stops_at_a_tampered_entry(app, group, server):
    feed = support.RemoteFeed(server, size=10)
    feed.tamper(6)
    peer = feed.peer()

    report = sync.catch_up(peer)

    assert report.applied == 5
    assert "bad-proof" in report.refused
    stored = _peer(peer.id)
    assert (stored.state, stored.held_seq, stored.head_seq) == ("chain_broken", 5, 10)
    assert "entry 6" in stored.state_reason
    assert _held(peer.id) == [1, 2, 3, 4, 5]


def test_catch_up_refuses_entries_signed_by_another_key(app, group, server):
    feed = support.RemoteFeed(server, size=3)
    other = support.RemoteFeed(LocalServer(), size=3)
    other.server.stop()
    peer = feed.peer(
        assertion_keys=other.peer(handle="x").assertion_keys.replace(other.actor, feed.actor)
    )

    report = sync.catch_up(peer)

    assert report.applied == 0
    assert report.refused
    assert _peer(peer.id).state == "chain_broken"


def test_peer_without_a_signed_feed_is_not_pulled(app, group, server):
    peer = support.peer(server.url("/actor"), is_branchline=False, outbox=server.url("/outbox"))

    report = sync.catch_up(peer)

    assert report.skipped
    assert server.received == []


def test_next_link_to_another_origin_is_not_followed(app, group, server):
    feed = support.RemoteFeed(server, size=6)
    peer = feed.peer()
    original = server.routes["/outbox"]

    def elsewhere(request):
        reply = original(request)
        return reply.__class__(
            reply.status,
            reply.headers,
            reply.body.replace(b'"next": "http://127.0.0.1', b'"next": "http://localhost'),
        )

    server.routes["/outbox"] = elsewhere

    report = sync.catch_up(peer)

    assert report.held_seq == 4
    assert feed.requested_after() == [0]


def test_poll_due_catches_up_followed_peers_and_schedules_the_next_poll(app, group, server):
    feed = support.RemoteFeed(server, size=5)
    followed = feed.peer()
    support.follow(followed)
    stranger = support.peer("http://127.0.0.1:9/actor", is_branchline=True, outbox="http://x/o")
    now = datetime.now(UTC)

    reports = sync.poll_due(clock=lambda: now)

    assert [r.applied for r in reports] == [5]
    assert _peer(followed.id).next_poll_at == now + timedelta(seconds=300)
    assert _peer(stranger.id).held_seq == 0  # not followed: not polled
    assert sync.poll_due(clock=lambda: now + timedelta(seconds=299)) == []
    assert len(sync.poll_due(clock=lambda: now + timedelta(seconds=300))) == 1


def test_poll_due_skips_a_broken_chain(app, group, server):
    feed = support.RemoteFeed(server, size=5)
    support.follow(feed.peer(state="chain_broken", state_reason="entry 2: bad-proof"))

    assert sync.poll_due() == []
    assert server.received == []


def test_unreachable_peer_is_polled_less_often(app, group):
    closed = LocalServer()
    feed = support.RemoteFeed(closed, size=2)
    closed.stop()
    app.config["PEER_UNREACHABLE_AFTER"] = 2
    peer = feed.peer()
    support.follow(peer)
    now = datetime.now(UTC)

    [first] = sync.poll_due(clock=lambda: now)
    assert first.error
    assert _peer(peer.id).state == "new"  # one failure is not enough
    [second] = sync.poll_due(clock=lambda: now + timedelta(seconds=300))
    assert second.error

    down = _peer(peer.id)
    assert down.state == "unreachable"
    later = now + timedelta(hours=2)
    down.unreachable_since = later - timedelta(hours=1)
    db.session.commit()
    down.next_poll_at = later
    db.session.commit()
    sync.poll_due(clock=lambda: later)
    assert _peer(peer.id).next_poll_at == later + timedelta(hours=1)
