"""What the inbox refuses: forged, misattributed, stale, oversized and malformed requests.

No test here lets a request leave the machine: peers are served by `responses`, and the
private-address cases check the guard refuses before anything is sent.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import responses
from sqlalchemy import select

from federation import client as federation_client
from federation import keys
from federation.errors import BlockedAddress
from node.extensions import db
from node.models import Peer, ReceivedActivity, RemoteEntry
from tests.node.federation_support import (  # noqa: F401
    ACTIVITY_JSON,
    OUR_ACTOR,
    FakePeer,
    body_of,
    follow_peer,
    remote,
)


def _like(peer: FakePeer) -> dict:
    return peer.activity("Like", "http://localhost/events/1")


def test_inbox_rejects_activity_signed_by_other_actors_key(client, remote):  # noqa: F811
    peer, other = FakePeer(2), FakePeer(3)
    peer.serve(remote)
    response = peer.post(client, _like(peer), key=other.http_key)
    assert response.status_code == 401
    assert db.session.scalar(select(ReceivedActivity)) is None


def test_inbox_rejects_activity_whose_actor_is_not_the_key_owner(client, remote):  # noqa: F811
    peer, impostor = FakePeer(2), FakePeer(3)
    peer.serve(remote)
    impostor.serve(remote)
    # Signed correctly by the impostor, but claims to be the peer's activity.
    response = impostor.post(client, _like(peer))
    assert response.status_code == 401


def test_inbox_rejects_object_of_another_origin(client, remote):  # noqa: F811
    peer = FakePeer(2)
    follow_peer(peer, remote)
    note = {"id": "http://127.0.0.9/notes/1", "type": "Note", "content": "forged"}
    response = peer.post(client, peer.activity("Create", note))
    assert response.status_code == 403


def test_inbox_rejects_activity_id_of_another_origin(client, remote):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    like = {**_like(peer), "id": "http://127.0.0.9/activities/1"}
    assert peer.post(client, like).status_code == 403


@pytest.mark.parametrize("hours", [-2, 2])
def test_inbox_rejects_stale_or_future_date(client, remote, hours):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    response = peer.post(client, _like(peer), now=datetime.now(UTC) + timedelta(hours=hours))
    assert response.status_code == 401


def test_inbox_rejects_digest_mismatch(client, remote):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    signed = json.dumps(_like(peer)).encode()
    sent = json.dumps({**_like(peer), "object": "http://localhost/events/2"}).encode()
    response = client.post("/inbox", data=sent, headers=peer.signed_headers(signed))
    assert response.status_code == 401


def test_inbox_rejects_unsigned_request(client, remote):  # noqa: F811
    peer = FakePeer(2)
    body = json.dumps(_like(peer)).encode()
    response = client.post("/inbox", data=body, content_type=ACTIVITY_JSON)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "covered",
    [["date", "digest"], ["(request-target)", "host", "digest"], ["(request-target)", "date"]],
)
def test_inbox_rejects_signature_missing_required_headers(client, remote, covered):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    assert peer.post(client, _like(peer), covered=covered).status_code == 401


def test_inbox_answers_400_to_a_malformed_signature_header(client, remote):  # noqa: F811
    peer = FakePeer(2)
    body = json.dumps(_like(peer)).encode()
    headers = {**peer.signed_headers(body), "Signature": 'keyId="x",,signature=='}
    assert client.post("/inbox", data=body, headers=headers).status_code == 400


@pytest.mark.parametrize(
    "key_host", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]", "192.168.1.1"]
)
def test_inbox_never_fetches_a_key_from_a_private_address(app, client, monkeypatch, key_host):
    app.config["ALLOW_PRIVATE_ADDRESSES"] = None
    blocked = []
    real_vet = federation_client.vet_host

    def spying_vet(*args, **kwargs):
        try:
            return real_vet(*args, **kwargs)
        except BlockedAddress as error:
            blocked.append(error.address)
            raise

    monkeypatch.setattr(federation_client, "vet_host", spying_vet)
    peer = FakePeer(2)
    key_id = f"http://{key_host}/actor#main-key"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        body = json.dumps({**_like(peer), "actor": f"http://{key_host}/actor"}).encode()
        response = client.post(
            "/inbox", data=body, headers=peer.signed_headers(body, key_id=key_id)
        )
        assert len(mock.calls) == 0
    assert response.status_code == 401
    assert blocked  # the guard refused the address before any connection


def test_inbox_refuses_a_key_behind_a_redirect_to_another_origin(client, remote):  # noqa: F811
    peer = FakePeer(2)
    remote.add(responses.GET, peer.actor, status=302, headers={"Location": "http://127.0.0.9/a"})
    assert peer.post(client, _like(peer)).status_code == 401
    assert [call.request.url for call in remote.calls] == [peer.actor]


def test_inbox_refetches_a_rotated_key_once(client, remote):  # noqa: F811
    # A fediverse actor without a feed: its document is all there is to go on. (A group
    # with a feed changes keys only through a rotation entry: test_key_rotation_peers.)
    peer = FakePeer(2, branchline=False)
    stored = follow_peer(peer, remote)
    stored.fetched_at = datetime.now(UTC) - timedelta(hours=1)
    db.session.commit()
    peer.http_key = keys.generate_rsa_key()
    remote.replace(
        responses.GET,
        peer.actor,
        body=json.dumps(peer.actor_document()),
        content_type=ACTIVITY_JSON,
    )

    assert peer.post(client, _like(peer)).status_code == 202
    changed = db.session.scalar(select(Peer))
    assert changed.state == "key_changed" and "key changed" in changed.state_reason


def test_inbox_refuses_a_five_mebibyte_body(client, remote):  # noqa: F811
    peer = FakePeer(2)
    body = json.dumps({**_like(peer), "padding": "x" * (5 * 1024 * 1024)}).encode()
    response = client.post("/inbox", data=body, headers=peer.signed_headers(body))
    assert response.status_code == 413
    assert len(remote.calls) == 0


@pytest.mark.parametrize("depth", [65, 100_000])
def test_inbox_refuses_deeply_nested_json(client, remote, depth):  # noqa: F811
    peer = FakePeer(2)
    nested = "[" * depth + "]" * depth
    body = (
        '{"id": "http://127.0.0.2/a", "type": "Like", "actor": "http://127.0.0.2/actor", '
        f'"object": {nested}}}'
    ).encode()
    response = client.post("/inbox", data=body, headers=peer.signed_headers(body))
    assert response.status_code == 400
    assert len(remote.calls) == 0


@pytest.mark.parametrize(
    "body",
    [b'{"id": "\xff\xfe"}', b"{not json", b"[1, 2]", b'"text"', b'{"a": NaN}', b"", b"{}"],
)
def test_inbox_refuses_bodies_that_are_not_activities(client, remote, body):  # noqa: F811
    peer = FakePeer(2)
    response = client.post("/inbox", data=body, headers=peer.signed_headers(body))
    assert response.status_code == 400


@pytest.mark.parametrize("content_type", ["application/json", "text/html", "", "multipart/x"])
def test_inbox_refuses_other_media_types(client, remote, content_type):  # noqa: F811
    peer = FakePeer(2)
    body = json.dumps(_like(peer)).encode()
    headers = peer.signed_headers(body, content_type=content_type)
    if not content_type:
        headers.pop("Content-Type")
    assert client.post("/inbox", data=body, headers=headers).status_code == 415


def test_inbox_accepts_ld_json_with_a_profile(client, remote):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    content_type = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    assert peer.post(client, _like(peer), content_type=content_type).status_code == 202


def test_replayed_entry_from_another_peer_is_not_applied(client, remote):  # noqa: F811
    peer, other = FakePeer(2), FakePeer(3)
    follow_peer(peer, remote)
    follow_peer(other, remote)
    entry = peer.entry("Create", peer.event("rally", "Rally"))
    body = body_of(entry)

    response = client.post("/inbox", data=body, headers=other.signed_headers(body))

    assert response.status_code == 401  # the entry's actor is not the signer
    assert db.session.scalar(select(RemoteEntry)) is None


def _fuzz_values(rng: random.Random, depth: int = 0):
    choices = [
        None,
        True,
        -1,
        0,
        2**70,
        1.5,
        "",
        "x",
        "http://127.0.0.2/x",
        "http://localhost/actor",
        "\u0000",
    ]
    if depth < 3:
        choices += [
            [_fuzz_values(rng, depth + 1) for _ in range(rng.randint(0, 3))],
            {k: _fuzz_values(rng, depth + 1) for k in rng.sample(FUZZ_KEYS, rng.randint(0, 4))},
        ]
    return rng.choice(choices)


FUZZ_KEYS = ["id", "type", "actor", "object", "seq", "prevHash", "proof", "updated", "name"]
FUZZ_TYPES = ["Create", "Update", "Delete", "Announce", "Follow", "Undo", "Accept", "Reject", "X"]


def test_inbox_never_answers_500_to_anything_a_peer_signs(client, remote, caplog):  # noqa: F811
    peer = FakePeer(2)
    follow_peer(peer, remote)
    rng = random.Random(20300101)
    statuses = set()
    for n in range(300):
        activity = {
            "id": f"{peer.base}/fuzz/{n}",
            "type": rng.choice(FUZZ_TYPES),
            "actor": peer.actor,
            "object": _fuzz_values(rng),
        }
        for key in rng.sample(FUZZ_KEYS[3:], rng.randint(0, 3)):
            activity[key] = _fuzz_values(rng)
        response = peer.post(client, activity)
        statuses.add(response.status_code)
        assert response.status_code < 500, (activity, response.get_json())
    assert 202 in statuses
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no hidden crash


def test_our_own_actor_is_not_a_peer(app, remote):  # noqa: F811
    from node.services.peering import peers

    with pytest.raises(peers.PeerError):
        peers.resolve(OUR_ACTOR)
