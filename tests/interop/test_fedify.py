"""Cross-checks against Fedify 1.5, the library DESIGN.md's shapes were checked against.

Each direction is checked by the other side's code: Fedify verifies what the node and the
``federation`` library sign and reads the documents the node serves; our verifiers accept
what Fedify signs. The Node side (tests/interop/fedify/) never touches the network: it is
handed the documents it needs and otherwise has only the JSON-LD contexts Fedify ships.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from federation import feed as signed_feed
from federation.errors import ProofError, SignatureError
from federation.httpsig import sign_request
from federation.keys import (
    ed25519_public_key_to_multikey,
    generate_ed25519_key,
    generate_rsa_key,
    private_key_to_pem,
)
from federation.proofs import sign_object, verify_object
from federation.signed_requests import verify_signed_request
from node.extensions import db
from node.keys import node_keys
from node.models import FeedEntry
from node.services import profile
from node.services.organising import events, posts

NOW = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)
NOW_TEXT = "2025-03-14T15:09:26Z"
AS_JSON = "application/activity+json"
ACTOR = "http://localhost/actor"
PROOF_KEY = f"{ACTOR}#ed25519-key"
HTTP_KEY = f"{ACTOR}#main-key"
PEER_ACTOR = "https://peer.example/users/alice"
PEER_PROOF_KEY = f"{PEER_ACTOR}#ed25519-key"
PEER_HTTP_KEY = f"{PEER_ACTOR}#main-key"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"

# Strings and numbers where canonical JSON (RFC 8785) implementations tend to differ.
AWKWARD_TEXT = 'Café — ☂️ 𝄞 <b>&amp;</b> "quoted" \\ \t\n\u2028\u007f\u0000\u001f'
# What the node can store: PostgreSQL text refuses NUL (and the node's schemas refuse it in
# input anyway); documents built without the database keep it.
STORABLE_TEXT = AWKWARD_TEXT.replace("\u0000", "")
AWKWARD_NUMBERS = [
    0.1,
    -0.0,
    1e21,
    1e-7,
    123456789012345680000.0,
    5e-324,
    1.7976931348623157e308,
    333333333.3333333,
    2**53,
    -1.5346,
]
# Keys that sort differently by UTF-16 code unit (what RFC 8785 asks) than by code point.
AWKWARD_KEYS = {"\ue000": 1, "\U0001f600": 2, "é": 3, "z": 4, "A": 5, "": 6}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _ed25519_jwk_x(public_key) -> str:
    return _b64url(public_key.public_bytes_raw())


def _rsa_jwk_n(public_key) -> str:
    n = public_key.public_numbers().n
    return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


# --- what the node serves and publishes -------------------------------------------------------


@pytest.fixture
def actor(client):
    """The group's actor document exactly as the node serves it."""
    response = client.get("/actor", headers={"Accept": AS_JSON})
    assert response.status_code == 200
    return json.loads(response.get_data())


def _entries() -> list[dict]:
    """Every feed entry exactly as stored and served, oldest first."""
    bodies = db.session.scalars(select(FeedEntry.body).order_by(FeedEntry.seq))
    return [json.loads(body) for body in bodies]


@pytest.fixture
def entries(group):
    """A Create and an Update of an event, then a Create of a news post, as the feed holds them."""
    event = events.create(
        {
            "title": f"Canvass the estate: {STORABLE_TEXT}",
            "kind": "canvass",
            "description": "Meet at the *library*.\n\nLeaflets provided.",
            "starts_at": NOW + timedelta(days=7),
            "ends_at": NOW + timedelta(days=7, hours=2, minutes=30),
            "place_name": "Chapeltown Library",
            "address": "Chapeltown Rd, Leeds LS7 3AP",
            "latitude": 53.8183,
            "longitude": -1.5346,
            "capacity": 30,
        }
    )
    events.update(event, {"title": "Canvass the estate (moved indoors)"})
    posts.create({"title": "Polling day plans", "body": "We need **drivers** on 1 May."})
    return _entries()


def _served(actor: dict) -> dict[str, dict]:
    """The documents a Fedify server could fetch from our node: here, the actor."""
    return {actor["id"]: actor}


def _check_actor_keys(found: dict) -> None:
    keys = node_keys()
    assert found["publicKeys"] == [
        {
            "id": HTTP_KEY,
            "owner": ACTOR,
            "algorithm": "RSASSA-PKCS1-v1_5",
            "jwk": {
                "kty": "RSA",
                "alg": "RS256",
                "n": _rsa_jwk_n(keys.http.public_key()),
                "e": "AQAB",
                "key_ops": ["verify"],
                "ext": True,
            },
        }
    ]
    assert found["assertionMethods"] == [
        {
            "id": PROOF_KEY,
            "controller": ACTOR,
            "algorithm": "Ed25519",
            "jwk": {
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "Ed25519",
                "x": _ed25519_jwk_x(keys.proof.public_key()),
                "key_ops": ["verify"],
                "ext": True,
            },
        }
    ]


def test_fedify_reads_our_actor_with_its_endpoints_and_both_keys(fedify, actor):
    found = fedify("read_documents.mjs", {"actor": actor, "documents": {}})["actor"]
    assert {key: found[key] for key in found if key not in ("publicKeys", "assertionMethods")} == {
        "type": "Group",
        "id": ACTOR,
        "preferredUsername": "leedsnorth",
        "name": "Leeds North Momentum",
        "url": "http://localhost/",
        "inbox": "http://localhost/inbox",
        "outbox": "http://localhost/outbox",
        "followers": "http://localhost/followers",
        "sharedInbox": "http://localhost/inbox",
        "manuallyApprovesFollowers": False,
    }
    _check_actor_keys(found)


def test_fedify_reads_our_event_and_note_entries(fedify, actor, entries):
    found = fedify("read_documents.mjs", {"entries": entries, "documents": _served(actor)})
    created, updated, noted = found["entries"]
    for seq, entry in enumerate(found["entries"], start=1):
        assert entry["id"] == f"http://localhost/outbox/{seq}"
        assert entry["actor"] == ACTOR
        assert entry["to"] == [PUBLIC]
        assert entry["cc"] == ["http://localhost/followers"]
        assert entry["proofs"] == [
            {
                "cryptosuite": "eddsa-jcs-2022",
                "verificationMethod": PROOF_KEY,
                "proofPurpose": "assertionMethod",
                "created": entries[seq - 1]["proof"]["created"],
                "proofValueLength": 64,
            }
        ]
        assert entry["object"]["attributedTo"] == ACTOR
    assert (created["type"], updated["type"], noted["type"]) == ("Create", "Update", "Create")
    assert created["object"] | {"content": None} == {
        "type": "Event",
        "id": "http://localhost/events/1",
        "name": f"Canvass the estate: {STORABLE_TEXT}",
        "content": None,
        "startTime": "2025-03-21T15:09:26Z",
        "endTime": "2025-03-21T17:39:26Z",
        "attributedTo": ACTOR,
        "location": "Chapeltown Library",
    }
    assert "<em>library</em>" in created["object"]["content"]
    assert updated["object"]["name"] == "Canvass the estate (moved indoors)"
    assert noted["object"]["type"] == "Note"
    assert noted["object"]["name"] == "Polling day plans"
    assert noted["object"]["content"] == "<p>We need <strong>drivers</strong> on 1 May.</p>"


def test_fedify_verifies_the_proof_on_every_feed_entry(fedify, actor, entries):
    for entry in entries:
        verdict = fedify("verify_proof.mjs", {"document": entry, "documents": _served(actor)})
        assert verdict == {
            "type": entry["type"],
            "proofs": [
                {
                    "verificationMethod": PROOF_KEY,
                    "verified": True,
                    "keyId": PROOF_KEY,
                    "controller": ACTOR,
                }
            ],
            "objectVerified": True,
        }


def test_fedify_refuses_a_tampered_entry_and_an_entry_signed_with_another_key(
    fedify, actor, entries
):
    tampered = copy.deepcopy(entries[0])
    tampered["object"]["startTime"] = "2025-03-22T15:09:26Z"
    verdict = fedify("verify_proof.mjs", {"document": tampered, "documents": _served(actor)})
    assert verdict["proofs"][0]["verified"] is False
    assert verdict["objectVerified"] is False

    rekeyed = copy.deepcopy(actor)
    other = ed25519_public_key_to_multikey(generate_ed25519_key().public_key())
    rekeyed["assertionMethod"][0]["publicKeyMultibase"] = other
    verdict = fedify("verify_proof.mjs", {"document": entries[0], "documents": _served(rekeyed)})
    assert verdict["proofs"][0]["verified"] is False
    assert verdict["objectVerified"] is False


def test_fedify_finds_both_keys_in_an_update_of_the_group(fedify, actor, group):
    # The actor embedded in the Update keeps its own @context; under the entry's context
    # alone, JSON-LD readers find neither publicKey nor assertionMethod.
    profile.update(group, {"summary": "Now with *emphasis*"})
    [entry] = _entries()
    found = fedify("read_documents.mjs", {"entries": [entry], "documents": _served(actor)})
    [update] = found["entries"]
    assert (update["type"], update["object"]["type"]) == ("Update", "Group")
    _check_actor_keys(update["object"])
    verdict = fedify("verify_proof.mjs", {"document": entry, "documents": _served(actor)})
    assert verdict["proofs"][0]["verified"] is True
    assert verdict["objectVerified"] is True


def _fedify_verifies(fedify, actor, method, url, headers, body=None, now=NOW_TEXT) -> dict:
    case = {
        "method": method,
        "url": url,
        "headers": list(headers.items()),
        "body": None if body is None else body.decode("utf-8"),
        "now": now,
        "documents": _served(actor),
    }
    return fedify("verify_request.mjs", case)


def _signed_by_node(method, url, body=None) -> dict[str, str]:
    headers = {"Accept": AS_JSON}
    if body is not None:
        headers["Content-Type"] = AS_JSON
    return sign_request(method, url, headers, body, HTTP_KEY, node_keys().http, NOW)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "https://peer.example/inbox", b'{"type":"Create","name":"caf\xc3\xa9"}'),
        ("GET", "https://peer.example/users/alice/outbox", None),
    ],
)
def test_fedify_verifies_requests_the_node_signs(fedify, actor, method, url, body):
    headers = _signed_by_node(method, url, body)
    verdict = _fedify_verifies(fedify, actor, method, url, headers, body)
    assert verdict == {"verified": True, "keyId": HTTP_KEY, "ownerId": ACTOR}


def test_fedify_refuses_our_signed_post_when_the_body_or_date_is_off(fedify, actor):
    url = "https://peer.example/inbox"
    headers = _signed_by_node("POST", url, b'{"type":"Create"}')
    altered = _fedify_verifies(fedify, actor, "POST", url, headers, b'{"type":"Delete"}')
    assert altered["verified"] is False
    late = (NOW + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = _fedify_verifies(fedify, actor, "POST", url, headers, b'{"type":"Create"}', late)
    assert stale["verified"] is False


def test_fedify_leaves_the_query_out_of_the_request_target(fedify, actor):
    # draft-cavage-12 section 2.3: (request-target) is the method and the HTTP/2 :path,
    # which includes the query (RFC 7540 8.1.2.3); we sign "get /outbox?after=3" as
    # Mastodon does. Fedify 1.5 builds it from URL.pathname alone, so it refuses our
    # signed GETs that carry a query and accepts one signed over the bare path. If this
    # test fails after a Fedify upgrade, Fedify has come into line with the draft.
    url = "https://peer.example/outbox?after=3"
    ours = _fedify_verifies(fedify, actor, "GET", url, _signed_by_node("GET", url))
    assert ours["verified"] is False
    bare_path = _signed_by_node("GET", "https://peer.example/outbox")
    assert _fedify_verifies(fedify, actor, "GET", url, bare_path)["verified"] is True


# --- the federation library, with documents Fedify never saw from us --------------------------


@pytest.fixture(scope="module")
def peer_keys():
    """Keys the tests generate for a peer: (RSA for requests, Ed25519 for proofs)."""
    return generate_rsa_key(), generate_ed25519_key()


def _peer_actor(proof_key) -> dict:
    return {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/v1",
            "https://w3id.org/security/data-integrity/v1",
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
        ],
        "id": PEER_ACTOR,
        "type": "Person",
        "inbox": f"{PEER_ACTOR}/inbox",
        "assertionMethod": [
            {
                "id": PEER_PROOF_KEY,
                "type": "Multikey",
                "controller": PEER_ACTOR,
                "publicKeyMultibase": ed25519_public_key_to_multikey(proof_key.public_key()),
            }
        ],
    }


def test_fedify_verifies_feed_entries_holding_awkward_json(fedify, peer_keys):
    # Fedify canonicalises with json-canon, an RFC 8785 implementation independent of ours.
    _, proof_key = peer_keys
    first = signed_feed.build_entry(
        {"id": f"{PEER_ACTOR}/outbox/1", "type": "Create", "actor": PEER_ACTOR, "object": {}},
        seq=1,
        previous=None,
        signing_key=proof_key,
        verification_method=PEER_PROOF_KEY,
        created=NOW,
    )
    note = {
        "id": f"{PEER_ACTOR}/notes/2",
        "type": "Note",
        "attributedTo": PEER_ACTOR,
        "name": AWKWARD_TEXT,
        "content": "<p>" + AWKWARD_TEXT + "</p>",
        "summary": "".join(chr(code) for code in range(0x20, 0x7F)),
        "goingCount": AWKWARD_NUMBERS,
        "kind": AWKWARD_KEYS,
    }
    second = signed_feed.build_entry(
        {"id": f"{PEER_ACTOR}/outbox/2", "type": "Create", "actor": PEER_ACTOR, "object": note},
        seq=2,
        previous=first,
        signing_key=proof_key,
        verification_method=PEER_PROOF_KEY,
        created=NOW + timedelta(seconds=1),
    )
    served = {PEER_ACTOR: _peer_actor(proof_key)}
    for entry in (first, second):
        verdict = fedify("verify_proof.mjs", {"document": entry, "documents": served})
        assert verdict["proofs"] == [
            {
                "verificationMethod": PEER_PROOF_KEY,
                "verified": True,
                "keyId": PEER_PROOF_KEY,
                "controller": PEER_ACTOR,
            }
        ]
        assert verdict["objectVerified"] is True


# --- what Fedify signs, checked by us ----------------------------------------------------------


def _fedify_signs_request(fedify, rsa_key, method, url, body=None) -> list[list[str]]:
    headers = [["Accept", AS_JSON], ["Date", "Fri, 14 Mar 2025 15:09:26 GMT"]]
    if body is not None:
        headers.append(["Content-Type", AS_JSON])
    case = {
        "method": method,
        "url": url,
        "headers": headers,
        "body": None if body is None else body.decode("utf-8"),
        "privateKeyPem": private_key_to_pem(rsa_key).decode("ascii"),
        "keyId": PEER_HTTP_KEY,
    }
    signed = fedify("sign_request.mjs", case)
    assert (signed["method"], signed["url"]) == (method, url)
    return signed["headers"]


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "https://node.example/inbox", '{"type":"Follow","name":"café"}'.encode()),
        ("GET", "https://node.example/actor", None),
    ],
)
def test_we_verify_requests_fedify_signs(fedify, peer_keys, method, url, body):
    rsa_key, _ = peer_keys
    headers = _fedify_signs_request(fedify, rsa_key, method, url, body)
    verified = verify_signed_request(
        method,
        url,
        headers,
        body or b"",
        lookup_key={PEER_HTTP_KEY: rsa_key.public_key()}.get,
        now=NOW,
    )
    assert verified.key_id == PEER_HTTP_KEY
    assert {"(request-target)", "host", "date"} <= set(verified.covered_headers)
    if body is not None:
        assert "digest" in verified.covered_headers
        with pytest.raises(SignatureError):
            verify_signed_request(
                method,
                url,
                headers,
                body + b" ",
                lookup_key={PEER_HTTP_KEY: rsa_key.public_key()}.get,
                now=NOW,
            )


def test_we_refuse_fedifys_signature_over_a_path_without_its_query(fedify, peer_keys):
    # The other half of test_fedify_leaves_the_query_out_of_the_request_target: Fedify
    # signs "get /outbox" for /outbox?after=3, which the draft (and we) do not accept.
    rsa_key, _ = peer_keys
    url = "https://node.example/outbox?after=3"
    headers = _fedify_signs_request(fedify, rsa_key, "GET", url)
    lookup = {PEER_HTTP_KEY: rsa_key.public_key()}.get
    with pytest.raises(SignatureError):
        verify_signed_request("GET", url, headers, b"", lookup_key=lookup, now=NOW)
    bare = "https://node.example/outbox"
    assert verify_signed_request("GET", bare, headers, b"", lookup_key=lookup, now=NOW)


def test_we_verify_objects_fedify_signs_and_sign_them_identically(fedify, peer_keys):
    _, proof_key = peer_keys
    create = {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/data-integrity/v1",
        ],
        "id": f"{PEER_ACTOR}/activities/1",
        "type": "Create",
        "actor": PEER_ACTOR,
        "to": [PUBLIC],
        "object": {
            "id": f"{PEER_ACTOR}/notes/1",
            "type": "Note",
            "attributedTo": PEER_ACTOR,
            "content": f"<p>{AWKWARD_TEXT}</p>",
            "published": NOW_TEXT,
        },
    }
    case = {
        "document": create,
        "privateKeyPem": private_key_to_pem(proof_key).decode("ascii"),
        "keyId": PEER_PROOF_KEY,
        "created": NOW_TEXT,
        "documents": {},
    }
    signed = fedify("sign_object.mjs", case)["signed"]
    proof = signed["proof"]
    assert (proof["type"], proof["cryptosuite"]) == ("DataIntegrityProof", "eddsa-jcs-2022")
    assert (proof["verificationMethod"], proof["created"]) == (PEER_PROOF_KEY, NOW_TEXT)
    # Fedify repeats the document's @context inside the proof; the spec allows it.
    assert proof["@context"] == signed["@context"]

    lookup = {PEER_PROOF_KEY: proof_key.public_key()}.get
    verified = verify_object(signed, lookup)
    assert (verified.verification_method, verified.created) == (PEER_PROOF_KEY, NOW)

    # Ed25519 is deterministic: the same document, key and options give the same signature,
    # so this shows both sides hash exactly the same bytes.
    unsigned = {key: value for key, value in signed.items() if key != "proof"}
    ours = sign_object(unsigned, proof_key, PEER_PROOF_KEY, NOW)
    assert ours["proof"]["proofValue"] == proof["proofValue"]

    tampered = copy.deepcopy(signed)
    tampered["object"]["content"] = "<p>Something else</p>"
    with pytest.raises(ProofError):
        verify_object(tampered, lookup)
