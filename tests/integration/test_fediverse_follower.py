"""A Mastodon-like account follows a real node and gets its public posts and events, signed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from federation import feed
from federation.httpsig import verify_request
from federation.keys import PublicKey, ed25519_public_key_from_multikey, load_public_key_pem
from federation.proofs import verify_object

from .doubles import ACTIVITY_JSON, FakePerson
from .support import Api, outbox_entries, query, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def alice():
    person = FakePerson("alice", "Alice Campaigner")
    yield person
    person.stop()


def _actor_document(actor: str) -> dict:
    answer = requests.get(actor, headers={"Accept": ACTIVITY_JSON}, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith(ACTIVITY_JSON)
    return answer.json()


def _http_key_of(actor: str):
    """Return a key look-up that, like Mastodon, fetches the signer's actor over HTTP."""

    def lookup(key_id: str) -> PublicKey | None:
        document = _actor_document(key_id.partition("#")[0])
        key = document["publicKey"]
        if key["id"] != key_id or key["owner"] != actor or document["id"] != actor:
            return None
        return load_public_key_pem(key["publicKeyPem"])

    return lookup


def _proof_key_of(actor: str):
    def lookup(key_id: str) -> PublicKey | None:
        for method in _actor_document(actor)["assertionMethod"]:
            if method["id"] == key_id and method["controller"] == actor:
                return ed25519_public_key_from_multikey(method["publicKeyMultibase"])
        return None

    return lookup


def _check_signed_by(received, actor: str) -> None:
    verified = verify_request(
        "POST",
        received.path,
        received.headers,
        received.body,
        lookup_key=_http_key_of(actor),
        now=datetime.now(UTC),
    )
    assert verified.key_id == f"{actor}#main-key"
    assert {"(request-target)", "host", "date", "digest"} <= set(verified.covered_headers)


def test_fediverse_account_follows_group_and_receives_its_public_posts_signed(start_node, alice):
    hull = start_node("Hull Unite Branch", "hullunite")
    follow = alice.activity("Follow", hull.actor)

    answer = alice.post(f"{hull.url}/inbox", follow)

    assert answer.status_code == 202, answer.text
    accepts = wait_until(
        lambda: alice.received("Accept"),
        "Hull answers Alice's Follow with an Accept",
        explain=lambda: hull.output()[-3000:],
    )
    assert accepts[0]["actor"] == hull.actor
    assert accepts[0]["object"]["id"] == follow["id"]
    _check_signed_by(alice.inbox_requests()[0], hull.actor)

    api = Api(hull)
    api.event("Members' planning meeting", visibility="members")
    api.event("Public meeting on bus cuts")
    api.post("Save our buses", "Sign the petition at the library.")

    def delivered() -> list[dict]:
        found = alice.received("Create")
        return found if len(found) == 2 else []

    creates = wait_until(delivered, "Hull delivers its new public event and post to Alice")
    assert sorted(create["object"]["type"] for create in creates) == ["Event", "Note"]
    by_type = {create["object"]["type"]: create for create in creates}
    assert by_type["Event"]["object"]["name"] == "Public meeting on bus cuts"
    assert by_type["Note"]["object"]["name"] == "Save our buses"
    assert feed.ACTIVITYSTREAMS_CONTEXT in by_type["Note"]["@context"]
    for create in creates:
        # What Alice got is the group's feed entry itself, proof and all.
        assert create in outbox_entries(hull)
        assert verify_object(create, _proof_key_of(hull.actor)).verification_method == (
            f"{hull.actor}#ed25519-key"
        )
    for received in alice.inbox_requests():
        _check_signed_by(received, hull.actor)
        assert received.header("Content-Type").startswith(ACTIVITY_JSON)
    # Members-only items never leave the node.
    assert all(b"planning meeting" not in received.body for received in alice.inbox_requests())
    assert query(hull, "SELECT state FROM follower") == [("accepted",)]
