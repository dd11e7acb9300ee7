"""FEP-8b32 / eddsa-jcs-2022 integrity proofs against the FEP's and the W3C's vectors."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from federation.errors import ProofError
from federation.jcs import canonical_members, canonicalize
from federation.keys import (
    ed25519_private_key_from_multikey,
    ed25519_public_key_from_multikey,
    generate_ed25519_key,
    generate_rsa_key,
)
from federation.proofs import sign_object, verify_object
from tests.federation.conftest import document

SECRET_MULTIKEY = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
ALICE_KEY = "https://server.example/users/alice#ed25519-key"
VECTOR_CREATED = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)
VECTOR_FILES = ["fep-8b32-signed-create-v1.json", "fep-8b32-signed-create-v2.json"]


@pytest.fixture(scope="module")
def vector_key():
    return ed25519_private_key_from_multikey(SECRET_MULTIKEY)


def actor_keys():
    """Resolve keys the way an inbox would: from the actor's assertionMethod Multikeys."""
    actor = document("fep-8b32-actor.json")
    by_id = {
        method["id"]: ed25519_public_key_from_multikey(method["publicKeyMultibase"])
        for method in actor["assertionMethod"]
    }
    return by_id.get


def unsigned(signed):
    return {key: value for key, value in signed.items() if key != "proof"}


@pytest.mark.parametrize("name", VECTOR_FILES)
def test_signing_the_fep_document_reproduces_the_published_proof_value(vector_key, name):
    published = document(name)
    signed = sign_object(unsigned(published), vector_key, ALICE_KEY, VECTOR_CREATED)
    assert signed["proof"]["proofValue"] == published["proof"]["proofValue"]


@pytest.mark.parametrize("name", VECTOR_FILES)
def test_published_fep_document_verifies_against_the_actors_multikey(name):
    verified = verify_object(document(name), actor_keys())
    assert verified.verification_method == ALICE_KEY
    assert verified.cryptosuite == "eddsa-jcs-2022"
    assert verified.created == VECTOR_CREATED


def test_signing_the_w3c_credential_reproduces_the_published_proof(vector_key):
    published = document("vc-di-eddsa-signed-jcs.json")
    method = published["proof"]["verificationMethod"]
    signed = sign_object(unsigned(published), vector_key, method, VECTOR_CREATED)
    assert signed["proof"]["proofValue"] == published["proof"]["proofValue"]
    # TestVectors/eddsa-jcs-2022/docHashJCS.txt
    assert hashlib.sha256(canonicalize(unsigned(published))).hexdigest() == (
        "59b7cb6251b8991add1ce0bc83107e3db9dbbab5bd2c28f687db1a03abc92f19"
    )


def test_published_w3c_credential_verifies(vector_key):
    published = document("vc-di-eddsa-signed-jcs.json")
    method = published["proof"]["verificationMethod"]
    keys = {method: vector_key.public_key()}
    assert verify_object(published, keys.get).verification_method == method


def test_our_proof_has_exactly_the_shape_peers_accept(vector_key):
    activity = unsigned(document(VECTOR_FILES[0]))
    signed = sign_object(
        activity, vector_key, ALICE_KEY, datetime(2025, 5, 1, 9, 30, 58, 123456, UTC)
    )
    assert signed["proof"] == {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "verificationMethod": ALICE_KEY,
        "proofPurpose": "assertionMethod",
        "created": "2025-05-01T09:30:58Z",
        "proofValue": signed["proof"]["proofValue"],
    }
    assert signed["proof"]["proofValue"].startswith("z")
    assert unsigned(signed) == activity
    assert verify_object(signed, actor_keys()).verification_method == ALICE_KEY


def test_created_is_converted_to_utc(vector_key):
    local = datetime(2025, 5, 1, 16, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    signed = sign_object({"type": "Note"}, vector_key, ALICE_KEY, local)
    assert signed["proof"]["created"] == "2025-05-01T14:00:00Z"


def test_signing_refuses_naive_times_and_already_signed_documents(vector_key):
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_object({"type": "Note"}, vector_key, ALICE_KEY, datetime(2025, 5, 1))
    with pytest.raises(ValueError, match="already carries a proof"):
        sign_object(document(VECTOR_FILES[0]), vector_key, ALICE_KEY, VECTOR_CREATED)


def test_a_linked_data_signature_beside_the_proof_is_ignored():
    published = document(VECTOR_FILES[0])
    published["signature"] = {"type": "RsaSignature2017", "signatureValue": "…"}
    assert verify_object(published, actor_keys())


# --- what we refuse ----------------------------------------------------------------------


def reason_for(signed, lookup=None, **kwargs):
    with pytest.raises(ProofError) as caught:
        verify_object(signed, lookup or actor_keys(), **kwargs)
    return caught.value.reason


def test_document_without_proof_is_refused():
    assert reason_for(unsigned(document(VECTOR_FILES[0]))) == "missing-proof"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("type", "Ed25519Signature2020", "unsupported-proof-type"),
        ("cryptosuite", "eddsa-rdfc-2022", "unsupported-cryptosuite"),
        ("proofPurpose", "authentication", "wrong-proof-purpose"),
        ("verificationMethod", None, "malformed-proof"),
        ("proofValue", "uAAAA", "malformed-proof"),
        ("proofValue", "z2NEpo7TZRRrLZSi2U", "malformed-proof"),
        ("created", "24 Feb 2023", "malformed-proof"),
    ],
)
def test_unsupported_or_malformed_proofs_are_refused(field, value, reason):
    signed = document(VECTOR_FILES[0])
    signed["proof"][field] = value
    assert reason_for(signed) == reason


def test_proof_set_is_refused():
    signed = document(VECTOR_FILES[0])
    signed["proof"] = [signed["proof"]]
    assert reason_for(signed) == "malformed-proof"


def test_unknown_verification_method_is_refused():
    signed = document(VECTOR_FILES[0])
    signed["proof"]["verificationMethod"] = "https://server.example/users/mallory#ed25519-key"
    assert reason_for(signed) == "unknown-key"


def test_rsa_key_for_the_verification_method_is_refused():
    lookup = {ALICE_KEY: generate_rsa_key().public_key()}.get
    assert reason_for(document(VECTOR_FILES[0]), lookup) == "wrong-key-type"


def test_proof_by_another_key_is_refused():
    lookup = {ALICE_KEY: generate_ed25519_key().public_key()}.get
    assert reason_for(document(VECTOR_FILES[0]), lookup) == "bad-signature"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda doc: doc["object"].__setitem__("content", "Goodbye world"),
        lambda doc: doc["object"]["location"].__setitem__("latitude", 25.273963),
        lambda doc: doc.__setitem__("to", ["https://www.w3.org/ns/activitystreams#Public"]),
        lambda doc: doc["proof"].__setitem__("created", "2023-02-24T23:36:39Z"),
        lambda doc: doc["@context"].append("https://w3id.org/security/multikey/v1"),
    ],
)
def test_tampered_documents_are_refused(tamper):
    signed = copy.deepcopy(document(VECTOR_FILES[0]))
    tamper(signed)
    assert reason_for(signed) in ("bad-signature", "context-mismatch")


@pytest.mark.parametrize(
    "context",
    [
        ["https://www.w3.org/ns/activitystreams"],
        [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/data-integrity/v1",
            {"content": "https://evil.example/ns#content"},
        ],
    ],
)
def test_proof_context_that_is_not_the_documents_is_refused(context):
    # vc-di-eddsa would accept the second (the proof's context is a prefix) without signing
    # the appended term definition; we do not.
    signed = document(VECTOR_FILES[0])
    signed["@context"] = context
    assert reason_for(signed) == "context-mismatch"


def test_our_proofs_cover_the_documents_context(vector_key):
    signed = sign_object(unsigned(document(VECTOR_FILES[0])), vector_key, ALICE_KEY, VECTOR_CREATED)
    signed["@context"] = [*signed["@context"], {"content": "https://evil.example/ns#content"}]
    assert reason_for(signed) == "bad-signature"


def test_expired_proof_is_refused_when_the_time_is_given(vector_key):
    signed = sign_object({"type": "Note"}, vector_key, ALICE_KEY, VECTOR_CREATED)
    signed["proof"]["expires"] = "2024-01-01T00:00:00Z"
    assert reason_for(signed, now=datetime(2025, 1, 1, tzinfo=UTC)) == "expired-proof"


def test_malformed_timestamps_are_refused_every_time_they_come():
    for _ in range(3):
        signed = document(VECTOR_FILES[0])
        signed["proof"]["created"] = "2023-02-30T23:36:38Z"
        assert reason_for(signed) == "malformed-proof"
    signed = document(VECTOR_FILES[0])
    signed["proof"]["created"] = type("Moment", (str,), {})(signed["proof"]["created"])
    assert verify_object(signed, actor_keys()).created == VECTOR_CREATED


def test_canonical_members_handed_in_leave_out_the_proof_and_a_signature():
    published = document(VECTOR_FILES[0])
    published["signature"] = {"type": "RsaSignature2017", "signatureValue": "…"}
    members = canonical_members(published)
    assert verify_object(published, actor_keys(), members=members)
    tampered = dict(members, type=b'"type":"Delete"')
    assert reason_for(published, members=tampered) == "bad-signature"
