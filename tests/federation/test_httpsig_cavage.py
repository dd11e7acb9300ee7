"""draft-cavage-http-signatures-12: the published appendix C vectors, Mastodon's rules, failures."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import httpsig
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from federation.algorithms import RSA_V1_5_SHA256, sign_bytes
from federation.errors import MalformedSignature, SignatureError
from federation.httpsig import parse_signature_header, sign_request, verify_request
from federation.keys import generate_ed25519_key, private_key_to_pem
from tests.federation.conftest import private_key, public_key

# Appendix C's request: POST /foo?param=value&pet=dog to example.com.
C_URL = "http://example.com/foo?param=value&pet=dog"
C_TARGET = "/foo?param=value&pet=dog"
C_NOW = datetime(2014, 1, 5, 21, 31, 40, tzinfo=UTC)  # "Sun, 05 Jan 2014 21:31:40 GMT"
C_BODY = b'{"hello": "world"}'
C_HEADERS = {
    "Host": "example.com",
    "Date": "Sun, 05 Jan 2014 21:31:40 GMT",
    "Content-Type": "application/json",
    "Digest": "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
    "Content-Length": "18",
}
C1_SIGNATURE = (
    "SjWJWbWN7i0wzBvtPl8rbASWz5xQW6mcJmn+ibttBqtifLN7Sazz6m79cNfwwb8DMJ5cou1s7uEGKKCs+FLEEaDV5lp7q25W"
    "qS+lavg7T8hc0GppauB6hbgEKTwblDHYGEtbGmtdHgVCk9SuS13F0hZ8FD0k/5OxEPXe5WozsbM="
)
C2_SIGNATURE = (
    "qdx+H7PHHDZgy4y/Ahn9Tny9V3GP6YgBPyUXMmoxWtLbHpUnXS2mg2+SbrQDMCJypxBLSPQR2aAjn7ndmw2iicw3HMbe8VfE"
    "dKFYRqzic+efkb3nndiv/x1xSHDJWeSWkx3ButlYSuBskLu6kd9Fswtemr3lgdDEmn04swr2Os0="
)
# C.3 as published lists "(request-target) (created) (expires) host date …" in its header, but
# its signature was computed over the six headers below only (a known erratum of draft 12).
C3_HEADERS = "(request-target) host date content-type digest content-length"
C3_SIGNATURE = (
    "vSdrb+dS3EceC9bcwHSo4MlyKS59iFIrhgYkz8+oVLEEzmYZZvRs8rgOp+63LEM3v+MFHB32NfpB2bEKBIvB1q52LaEUHFv1"
    "20V01IL+TAD48XaERZFukWgHoBTLMhYS2Gb51gWxpeIq8knRmPnYePbF5MOkR0Zkly4zKH7s1dE="
)

INBOX_URL = "https://branch.example/inbox"
ACTIVITY = b'{"type":"Create","actor":"https://peer.example/groups/leeds"}'
NOW = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
KEY_ID = "https://peer.example/groups/leeds#main-key"
AS_JSON = {"Content-Type": "application/activity+json"}


@pytest.fixture(scope="module")
def c_key():
    return private_key("cavage-test-key")


@pytest.fixture(scope="module")
def peer_key():
    # The C key is only 1024 bits; real peers use RSA-2048, so the behaviour tests do too.
    return private_key("rfc9421-test-key-rsa")


def keys(**by_id):
    return lambda key_id: by_id.get(key_id)


def signature_of(header: str) -> str:
    return parse_signature_header(header)["signature"]


# --- published vectors -------------------------------------------------------------------


def test_signer_reproduces_appendix_c1_default_test(c_key):
    signed = sign_request("POST", C_URL, C_HEADERS, C_BODY, "Test", c_key, C_NOW, covered=["date"])
    assert signature_of(signed["Signature"]) == C1_SIGNATURE


def test_signer_reproduces_appendix_c2_basic_test(c_key):
    covered = ["(request-target)", "host", "date"]
    signed = sign_request("POST", C_URL, C_HEADERS, C_BODY, "Test", c_key, C_NOW, covered=covered)
    assert signed["Signature"] == (
        'keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date",'
        f'signature="{C2_SIGNATURE}"'
    )


def test_signer_reproduces_appendix_c3_all_headers_test(c_key):
    signed = sign_request(
        "POST", C_URL, C_HEADERS, C_BODY, "Test", c_key, C_NOW, covered=C3_HEADERS.split()
    )
    assert signed["Digest"] == C_HEADERS["Digest"]
    assert signature_of(signed["Signature"]) == C3_SIGNATURE


def test_verifier_accepts_published_c3_signature_in_authorization_header():
    headers = {
        **C_HEADERS,
        "Authorization": f'Signature keyId="Test",algorithm="rsa-sha256",'
        f'created=1402170695,expires=1402170699,headers="{C3_HEADERS}",signature="{C3_SIGNATURE}"',
    }
    verified = verify_request(
        "POST",
        C_TARGET,
        headers,
        C_BODY,
        lookup_key=keys(Test=public_key("cavage-test-key")),
        now=C_NOW,
        max_skew=10**9,
    )
    assert verified.key_id == "Test"
    assert verified.covered_headers == tuple(C3_HEADERS.split())
    assert verified.algorithm == "rsa-sha256"


def test_verifier_refuses_published_c1_because_date_alone_proves_too_little():
    # C.1 has no headers parameter: it covers only "date", which Mastodon's rules refuse.
    headers = {
        **C_HEADERS,
        "Signature": f'keyId="Test",algorithm="rsa-sha256",signature="{C1_SIGNATURE}"',
    }
    with pytest.raises(SignatureError, match=r"\(request-target\) or digest"):
        verify_request(
            "POST",
            C_TARGET,
            headers,
            C_BODY,
            lookup_key=keys(Test=public_key("cavage-test-key")),
            now=C_NOW,
        )


def test_verifier_refuses_published_c2_post_that_does_not_cover_the_digest():
    headers = {
        **C_HEADERS,
        "Signature": f'keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date",'
        f'signature="{C2_SIGNATURE}"',
    }
    with pytest.raises(SignatureError, match="must cover digest"):
        verify_request(
            "POST",
            C_TARGET,
            headers,
            C_BODY,
            lookup_key=keys(Test=public_key("cavage-test-key")),
            now=C_NOW,
        )


# --- what we send ------------------------------------------------------------------------


def test_post_is_signed_mastodon_style(peer_key):
    headers = {"Content-Type": "application/activity+json", "Date": "stale", "host": "stale"}
    signed = sign_request("POST", INBOX_URL, headers, ACTIVITY, KEY_ID, peer_key, NOW)
    assert signed["Date"] == "Thu, 01 May 2025 12:00:00 GMT"
    assert signed["Host"] == "branch.example"
    assert "host" not in signed
    expected_digest = base64.b64encode(hashlib.sha256(ACTIVITY).digest()).decode()
    assert signed["Digest"] == f"SHA-256={expected_digest}"
    params = parse_signature_header(signed["Signature"])
    assert params["keyId"] == KEY_ID
    assert params["algorithm"] == "rsa-sha256"
    assert params["headers"] == "(request-target) host date digest content-type"


def test_get_is_signed_over_request_target_host_and_date(peer_key):
    signed = sign_request(
        "GET", "https://branch.example/outbox?after=3", {}, None, KEY_ID, peer_key, NOW
    )
    assert "Digest" not in signed
    assert parse_signature_header(signed["Signature"])["headers"] == "(request-target) host date"
    verified = verify_request(
        "GET",
        "/outbox?after=3",
        signed,
        b"",
        lookup_key=keys(**{KEY_ID: peer_key.public_key()}),
        now=NOW,
    )
    assert verified.covered_headers == ("(request-target)", "host", "date")


def test_signed_post_verifies(peer_key):
    signed = sign_request("POST", INBOX_URL, AS_JSON, ACTIVITY, KEY_ID, peer_key, NOW)
    verified = verify_request(
        "POST",
        "/inbox",
        signed,
        ACTIVITY,
        lookup_key=keys(**{KEY_ID: peer_key.public_key()}),
        now=NOW,
    )
    assert verified.key_id == KEY_ID
    assert verified.algorithm == "rsa-sha256"


def test_ed25519_keys_sign_and_verify_as_hs2019():
    key = generate_ed25519_key()
    signed = sign_request("POST", INBOX_URL, {}, ACTIVITY, KEY_ID, key, NOW)
    assert parse_signature_header(signed["Signature"])["algorithm"] == "hs2019"
    verified = verify_request(
        "POST", "/inbox", signed, ACTIVITY, lookup_key=keys(**{KEY_ID: key.public_key()}), now=NOW
    )
    assert verified.algorithm == "hs2019"


def test_hs2019_with_an_rsa_key_accepts_pkcs1_signatures(peer_key):
    signed = sign_request("POST", INBOX_URL, {}, ACTIVITY, KEY_ID, peer_key, NOW)
    signed["Signature"] = signed["Signature"].replace(
        'algorithm="rsa-sha256"', 'algorithm="hs2019"'
    )
    verified = verify_request(
        "POST",
        "/inbox",
        signed,
        ACTIVITY,
        lookup_key=keys(**{KEY_ID: peer_key.public_key()}),
        now=NOW,
    )
    assert verified.algorithm == "hs2019"


def test_verifier_follows_the_signers_header_order(peer_key):
    covered = ["digest", "date", "host", "(request-target)"]
    signed = sign_request("POST", INBOX_URL, {}, ACTIVITY, KEY_ID, peer_key, NOW, covered=covered)
    verified = verify_request(
        "POST",
        "/inbox",
        signed,
        ACTIVITY,
        lookup_key=keys(**{KEY_ID: peer_key.public_key()}),
        now=NOW,
    )
    assert verified.covered_headers == tuple(covered)


def hand_signed(key, method, target, fields, covered, *, algorithm="rsa-sha256", extra=""):
    """Sign like a peer would, without our signer: a plain signing string over ``fields``."""
    lower = {name.lower(): value for name, value in fields.items()}
    lines = [
        f"(request-target): {method.lower()} {target}"
        if name == "(request-target)"
        else f"{name}: {lower[name]}"
        for name in covered
    ]
    signature = sign_bytes(RSA_V1_5_SHA256, key, "\n".join(lines).encode())
    return {
        **fields,
        "Signature": f'keyId="{KEY_ID}",algorithm="{algorithm}",{extra}'
        f'headers="{" ".join(covered)}",signature="{base64.b64encode(signature).decode()}"',
    }


def base_fields(body=ACTIVITY, digest=None):
    return {
        "Host": "branch.example",
        "Date": "Thu, 01 May 2025 12:00:00 GMT",
        "Content-Type": "application/activity+json",
        "Digest": digest or "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode(),
    }


def verify(headers, *, method="POST", target="/inbox", body=ACTIVITY, key=None, now=NOW):
    return verify_request(
        method,
        target,
        headers,
        body,
        lookup_key=keys(**({KEY_ID: key} if key is not None else {})),
        now=now,
    )


def test_verifier_accepts_sha512_digests_from_peers(peer_key):
    digest = "SHA-512=" + base64.b64encode(hashlib.sha512(ACTIVITY).digest()).decode()
    covered = ["(request-target)", "host", "date", "digest"]
    headers = hand_signed(peer_key, "POST", "/inbox", base_fields(digest=digest), covered)
    assert verify(headers, key=peer_key.public_key()).key_id == KEY_ID


def test_verifier_accepts_digest_without_request_target_as_mastodon_does(peer_key):
    headers = hand_signed(peer_key, "POST", "/inbox", base_fields(), ["host", "date", "digest"])
    assert verify(headers, key=peer_key.public_key()).covered_headers == ("host", "date", "digest")


def test_verifier_accepts_created_instead_of_date(peer_key):
    created = int(NOW.timestamp()) - 5
    fields = {k: v for k, v in base_fields().items() if k != "Date"}
    covered = ["(request-target)", "host", "(created)", "digest"]
    lines = "\n".join(
        [
            "(request-target): post /inbox",
            "host: branch.example",
            f"(created): {created}",
            f"digest: {fields['Digest']}",
        ]
    )
    signature = base64.b64encode(sign_bytes(RSA_V1_5_SHA256, peer_key, lines.encode())).decode()
    fields["Signature"] = (
        f'keyId="{KEY_ID}",algorithm="hs2019",created={created},headers="{" ".join(covered)}",'
        f'signature="{signature}"'
    )
    assert verify(fields, key=peer_key.public_key()).algorithm == "hs2019"


# --- what we refuse ----------------------------------------------------------------------


def test_tampered_body_is_refused(peer_key):
    signed = sign_request("POST", INBOX_URL, {}, ACTIVITY, KEY_ID, peer_key, NOW)
    with pytest.raises(SignatureError, match="body does not match its Digest"):
        verify(signed, body=ACTIVITY.replace(b"leeds", b"evil!"), key=peer_key.public_key())


def test_body_and_digest_replaced_together_are_refused(peer_key):
    signed = sign_request("POST", INBOX_URL, {}, ACTIVITY, KEY_ID, peer_key, NOW)
    forged = b'{"type":"Delete"}'
    signed["Digest"] = "SHA-256=" + base64.b64encode(hashlib.sha256(forged).digest()).decode()
    with pytest.raises(SignatureError, match="does not match the request"):
        verify(signed, body=forged, key=peer_key.public_key())


def test_signature_from_another_key_is_refused(peer_key):
    signed = sign_request("POST", INBOX_URL, {}, ACTIVITY, KEY_ID, peer_key, NOW)
    other = private_key("cavage-test-key").public_key()
    with pytest.raises(SignatureError, match="does not match"):
        verify(signed, key=other)


def test_unknown_key_is_refused(peer_key):
    signed = sign_request("POST", INBOX_URL, {}, ACTIVITY, KEY_ID, peer_key, NOW)
    with pytest.raises(SignatureError, match="no public key known"):
        verify(signed)


def test_request_sent_to_another_path_is_refused(peer_key):
    signed = sign_request("POST", INBOX_URL, {}, ACTIVITY, KEY_ID, peer_key, NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify(signed, target="/groups/leeds/inbox", key=peer_key.public_key())


@pytest.mark.parametrize("offset", [timedelta(hours=1, seconds=1), -timedelta(hours=1, seconds=1)])
def test_date_more_than_an_hour_away_is_refused(peer_key, offset):
    signed = sign_request("POST", INBOX_URL, {}, ACTIVITY, KEY_ID, peer_key, NOW)
    with pytest.raises(SignatureError, match="too far from the current time"):
        verify(signed, now=NOW + offset, key=peer_key.public_key())


def test_date_within_the_hour_is_accepted(peer_key):
    signed = sign_request("POST", INBOX_URL, {}, ACTIVITY, KEY_ID, peer_key, NOW)
    assert verify(signed, now=NOW + timedelta(minutes=59), key=peer_key.public_key())


def test_expired_signature_is_refused(peer_key):
    expires = int(NOW.timestamp()) - 1
    covered = ["(request-target)", "host", "date", "digest"]
    headers = hand_signed(
        peer_key, "POST", "/inbox", base_fields(), covered, extra=f"expires={expires},"
    )
    with pytest.raises(SignatureError, match="expired"):
        verify(headers, key=peer_key.public_key())


def test_covered_header_missing_from_request_is_refused(peer_key):
    signed = sign_request("POST", INBOX_URL, AS_JSON, ACTIVITY, KEY_ID, peer_key, NOW)
    del signed["Content-Type"]
    with pytest.raises(SignatureError, match="'content-type' is missing"):
        verify(signed, key=peer_key.public_key())


@pytest.mark.parametrize(
    ("method", "covered", "message"),
    [
        ("POST", ["(request-target)", "host", "digest"], "date or \\(created\\)"),
        ("POST", ["host", "date"], "\\(request-target\\) or digest"),
        ("POST", ["(request-target)", "host", "date"], "must cover digest"),
        ("GET", ["(request-target)", "date"], "GET must cover host"),
    ],
)
def test_signatures_that_cover_too_little_are_refused(peer_key, method, covered, message):
    body = ACTIVITY if method == "POST" else b""
    headers = hand_signed(peer_key, method, "/inbox", base_fields(body), covered)
    with pytest.raises(SignatureError, match=message):
        verify(headers, method=method, body=body, key=peer_key.public_key())


def test_unsigned_request_is_refused():
    with pytest.raises(SignatureError, match="not signed"):
        verify(base_fields())


def test_unsupported_algorithm_is_refused(peer_key):
    covered = ["(request-target)", "host", "date", "digest"]
    headers = hand_signed(
        peer_key, "POST", "/inbox", base_fields(), covered, algorithm="hmac-sha256"
    )
    with pytest.raises(SignatureError, match="unsupported signature algorithm"):
        verify(headers, key=peer_key.public_key())


def test_rsa_sha256_claimed_for_an_ed25519_key_is_refused(peer_key):
    covered = ["(request-target)", "host", "date", "digest"]
    headers = hand_signed(peer_key, "POST", "/inbox", base_fields(), covered)
    with pytest.raises(SignatureError, match="does not fit an? Ed25519 key"):
        verify(headers, key=generate_ed25519_key().public_key())


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        'keyId="k",signature="AAAA",',
        'keyId="k",keyId="k",signature="AAAA"',
        'headers="date",signature="AAAA"',
        'keyId="k",headers="date"',
        'keyId="k";signature="AAAA"',
        'keyId="k",headers="",signature="AAAA"',
        'keyId="k",headers="date date",signature="AAAA"',
        'keyId="k",headers="(request-target) date digest",signature="not base64!"',
    ],
)
def test_malformed_signature_header_is_a_malformed_signature(header):
    headers = {**base_fields(), "Signature": header}
    with pytest.raises(MalformedSignature):
        verify(headers, key=generate_ed25519_key().public_key())


def test_unparsable_date_is_a_malformed_signature(peer_key):
    fields = {**base_fields(), "Date": "yesterday"}
    headers = hand_signed(
        peer_key, "POST", "/inbox", fields, ["(request-target)", "host", "date", "digest"]
    )
    with pytest.raises(MalformedSignature, match="not an HTTP date"):
        verify(headers, key=peer_key.public_key())


def test_created_covered_without_created_parameter_is_malformed(peer_key):
    headers = {
        **base_fields(),
        "Signature": 'keyId="k",headers="(request-target) (created) digest",signature="AAAA"',
    }
    with pytest.raises(MalformedSignature, match="created parameter is missing"):
        verify(headers, key=peer_key.public_key())


# --- an independent implementation (the httpsig package) ---------------------------------


def test_httpsig_package_signature_verifies_here(peer_key):
    fields = base_fields()
    covered = ["(request-target)", "host", "date", "digest"]
    signer = httpsig.HeaderSigner(
        KEY_ID,
        private_key_to_pem(peer_key),
        algorithm="rsa-sha256",
        headers=covered,
        sign_header="signature",
    )
    signed = signer.sign(dict(fields), method="POST", path="/inbox")
    assert verify(signed, key=peer_key.public_key()).key_id == KEY_ID


def test_our_signature_verifies_with_httpsig_package(peer_key):
    signed = sign_request("POST", INBOX_URL, AS_JSON, ACTIVITY, KEY_ID, peer_key, NOW)
    pem = peer_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    verifier = httpsig.HeaderVerifier(
        signed, pem, method="POST", path="/inbox", sign_header="signature"
    )
    assert verifier.verify()
