"""Entries pushed ahead of a gap: kept, applied when the gap fills, and a pull asked for now."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from node.extensions import db
from node.models import EarlyEntry, RemoteEntry
from node.models.types import utcnow
from tests.node.federation_support import (  # noqa: F401
    FakePeer,
    body_of,
    follow_peer,
    remote,
)


def _push(client, peer: FakePeer, entry: dict):
    body = body_of(entry)
    return client.post("/inbox", data=body, headers=peer.signed_headers(body))


def _held_seqs() -> list[int]:
    return list(db.session.scalars(select(RemoteEntry.seq).order_by(RemoteEntry.seq)))


def _early_seqs() -> list[int]:
    return list(db.session.scalars(select(EarlyEntry.seq).order_by(EarlyEntry.seq)))


def test_entries_ahead_of_a_gap_are_kept_and_applied_when_it_fills(client, remote):  # noqa: F811
    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    first, second, third, fourth = (
        peer.entry("Create", peer.event(f"e{n}", f"E{n}")) for n in range(4)
    )
    _push(client, peer, first)

    # A burst whose deliveries crossed: the fourth and third come before the second.
    for entry in (fourth, third):
        answer = _push(client, peer, entry)
        assert answer.status_code == 202
        assert "kept" in answer.get_json()["status"]
    assert _held_seqs() == [1] and _early_seqs() == [3, 4]
    assert stored_peer.state == "behind"

    assert _push(client, peer, second).status_code == 202

    assert _held_seqs() == [1, 2, 3, 4]
    assert _early_seqs() == []
    db.session.refresh(stored_peer)
    assert (stored_peer.held_seq, stored_peer.state) == (4, "in_step")


def test_a_gap_makes_the_peers_poll_due_now(client, remote):  # noqa: F811
    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    stored_peer.next_poll_at = utcnow() + timedelta(minutes=5)
    db.session.commit()
    peer.entry("Create", peer.event("a", "A"))
    second = peer.entry("Create", peer.event("b", "B"))

    before = utcnow()
    _push(client, peer, second)

    db.session.refresh(stored_peer)
    assert before <= stored_peer.next_poll_at <= utcnow()


def test_entries_too_far_ahead_are_left_to_the_pull(app, client, remote):  # noqa: F811
    app.config["EARLY_ENTRIES_PER_PEER"] = 2
    peer = FakePeer(2)
    follow_peer(peer, remote)
    entries = [peer.entry("Create", peer.event(f"e{n}", f"E{n}")) for n in range(4)]

    for entry in entries[1:]:  # seqs 2, 3, 4 while holding none: only 2 is within 2 ahead
        assert _push(client, peer, entry).status_code == 202

    assert _early_seqs() == [2]


def test_a_kept_entry_that_does_not_verify_is_dropped_without_breaking_the_chain(
    client,
    remote,  # noqa: F811
):
    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    first = peer.entry("Create", peer.event("a", "A"))
    second = peer.entry("Create", peer.event("b", "B"))
    forged = dict(second, object={**second["object"], "name": "B (changed)"})
    _push(client, peer, forged)  # came early: kept, not yet checked
    assert _early_seqs() == [2]

    assert _push(client, peer, first).status_code == 202

    db.session.refresh(stored_peer)
    assert _held_seqs() == [1] and _early_seqs() == []
    assert stored_peer.state != "chain_broken"
    assert _push(client, peer, second).status_code == 202  # the real one, in its turn
    assert _held_seqs() == [1, 2]
