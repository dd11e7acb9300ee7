"""A followed group that rotates its keys: its new keys count only through its rotation entry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import responses
from sqlalchemy import select

from federation import keys
from node.extensions import db
from node.models import Peer, RemoteEntry
from tests.node.federation_support import (  # noqa: F401
    ACTIVITY_JSON,
    FakePeer,
    body_of,
    follow_peer,
    remote,
)

LATER = datetime(2030, 3, 1, tzinfo=UTC)


def _push(client, peer: FakePeer, entry: dict):
    body = body_of(entry)
    return client.post("/inbox", data=body, headers=peer.signed_headers(body))


def _serve_again(peer: FakePeer, mock) -> None:
    mock.replace(
        responses.GET,
        peer.actor,
        body=json.dumps(peer.actor_document()),
        content_type=ACTIVITY_JSON,
    )


def _like(peer: FakePeer) -> dict:
    return peer.activity("Like", f"{peer.base}/events/x")


def _held() -> list[int]:
    return list(db.session.scalars(select(RemoteEntry.seq).order_by(RemoteEntry.seq)))


def test_follower_keeps_accepting_entries_pushed_after_a_rotation(client, remote):  # noqa: F811
    peer = FakePeer(2)
    stored = follow_peer(peer, remote)
    before = peer.entry("Create", peer.event("rally", "Rally"))
    assert _push(client, peer, before).status_code == 202
    rotation = peer.rotate(created=LATER)  # signed by the old key, proven by the new one
    _serve_again(peer, remote)
    after = peer.entry("Create", peer.event("march", "March"), created=LATER)

    assert _push(client, peer, rotation).status_code == 202  # signed with the new RSA key
    assert _push(client, peer, after).status_code == 202

    assert _held() == [1, 2, 3]
    assert stored.state == "in_step"
    assert stored.key_id == f"{peer.actor}#main-key-2"


def test_follower_refuses_an_entry_signed_by_the_retired_key(client, remote):  # noqa: F811
    peer = FakePeer(2)
    stored = follow_peer(peer, remote)
    old_key, old_id = peer.proof_key, peer.proof_key_id
    assert _push(client, peer, peer.entry("Create", peer.event("a", "A"))).status_code == 202
    rotation = peer.rotate(created=LATER)
    _serve_again(peer, remote)
    assert _push(client, peer, rotation).status_code == 202
    peer.proof_key, new_generation = old_key, peer.generation
    peer.generation = 1  # whoever still holds the old key signs the next entry with it
    forged = peer.entry("Create", peer.event("forged", "Forged"), created=LATER)
    assert forged["proof"]["verificationMethod"] == old_id
    peer.generation = new_generation

    _push(client, peer, forged)

    assert _held() == [1, 2]
    assert stored.state == "chain_broken" and "retired-key" in stored.state_reason


def test_follower_refuses_a_published_key_no_rotation_introduces(client, remote):  # noqa: F811
    peer = FakePeer(2)
    stored = follow_peer(peer, remote)
    assert _push(client, peer, peer.entry("Create", peer.event("a", "A"))).status_code == 202
    # The document now also lists a second key, and an entry comes signed by it.
    intruder = keys.generate_ed25519_key()
    peer.retired.append(
        {
            "id": f"{peer.actor}#ed25519-key-9",
            "type": "Multikey",
            "controller": peer.actor,
            "publicKeyMultibase": keys.ed25519_public_key_to_multikey(intruder.public_key()),
        }
    )
    _serve_again(peer, remote)
    stored.fetched_at = datetime(2000, 1, 1, tzinfo=UTC)  # so the follower reads it again
    db.session.commit()
    peer.proof_key, peer.generation = intruder, 9
    forged = peer.entry("Create", peer.event("b", "B"))
    peer.generation = 1

    _push(client, peer, forged)

    assert _held() == [1]
    assert stored.state == "chain_broken" and "unproven-key" in stored.state_reason


def test_inbox_takes_a_new_http_key_its_rotation_proves(client, remote):  # noqa: F811
    peer = FakePeer(3)
    stored = follow_peer(peer, remote)
    peer.rotate(created=LATER)
    _serve_again(peer, remote)

    assert peer.post(client, _like(peer)).status_code == 202

    assert stored.key_id == f"{peer.actor}#main-key-2"


def test_inbox_refuses_a_groups_new_http_key_without_a_rotation(client, remote):  # noqa: F811
    peer = FakePeer(3)
    stored = follow_peer(peer, remote)
    held_pem = stored.public_key_pem
    peer.http_key = keys.generate_rsa_key()  # same key id, new key, no rotation entry
    _serve_again(peer, remote)
    stored.fetched_at = datetime(2000, 1, 1, tzinfo=UTC)
    db.session.commit()

    assert peer.post(client, _like(peer)).status_code == 401

    refreshed = db.session.scalar(select(Peer).where(Peer.actor_id == peer.actor))
    assert refreshed.public_key_pem == held_pem
    assert refreshed.state == "key_changed" and "no rotation entry" in refreshed.state_reason


def test_inbox_refuses_a_rotation_the_old_key_did_not_sign(client, remote):  # noqa: F811
    peer = FakePeer(3)
    stored = follow_peer(peer, remote)
    genuine_proof_key = peer.proof_key
    peer.proof_key = keys.generate_ed25519_key()  # the "rotation" is signed by a stranger
    peer.rotate(created=LATER)
    _serve_again(peer, remote)
    assert genuine_proof_key is not peer.proof_key

    assert peer.post(client, _like(peer)).status_code == 401
    assert stored.key_id == f"{peer.actor}#main-key"
