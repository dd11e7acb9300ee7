"""RFC 9421 HTTP Message Signatures: the RFC's published examples, our policy, failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)

from federation.errors import MalformedSignature, SignatureError
from federation.keys import generate_ed25519_key
from federation.message_signatures import (
    SignaturePolicy,
    sign_message,
    signature_base,
    verify_message,
)
from tests.federation.conftest import private_key, public_key

# The request every RFC 9421 appendix B.2 example signs.
RFC_URL = "https://example.com/foo?param=Value&Pet=dog"
RFC_BODY = b'{"hello": "world"}'
RFC_HEADERS = {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNye"
    "aldVLvRwEmTHWXvJwew==:",
    "Content-Length": "18",
}
RFC_CREATED = datetime.fromtimestamp(1618884473, UTC)
RFC_NOW = RFC_CREATED + timedelta(seconds=10)
ANYTHING = SignaturePolicy(require_target=False, require_content_digest=False)

B21_INPUT = 'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"'
B21_SIGNATURE = (
    "sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtR"
    "xf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzs"
    "PLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d"
    "4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:"
)
B22_INPUT = (
    'sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;'
    'keyid="test-key-rsa-pss";tag="header-example"'
)
B22_SIGNATURE = (
    "sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE"
    "5qH7KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaq"
    "wZVtR8NV7+4UKkjqpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURI"
    "jYErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:"
)
B23_INPUT = (
    'sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" '
    '"content-length");created=1618884473;keyid="test-key-rsa-pss"'
)
B23_SIGNATURE = (
    "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRp"
    "RRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA"
    "2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka"
    "39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:"
)
B26_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");'
    'created=1618884473;keyid="test-key-ed25519"'
)
B26_SIGNATURE = (
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw"
    "==:"
)
# Sections 2.5, 3.1 and 3.2: the RFC's running example.
SECTION_3_INPUT = (
    'sig1=("@method" "@authority" "@path" "content-digest" "content-length" "content-type");'
    'created=1618884473;keyid="test-key-rsa-pss"'
)
SECTION_3_SIGNATURE = (
    "sig1=:HIbjHC5rS0BYaa9v4QfD4193TORw7u9edguPh0AW3dMq9WImrlFrCGUDih47vAxi4L2YRZ3XMJc1uOKk/J0ZmZ+wcta4"
    "nKIgBkKq0rM9hs3CQyxXGxHLMCy8uqK488o+9jrptQ+xFPHK7a9sRL1IXNaagCNN3ZxJsYapFj+JXbmaI5rtAdSfSvzPuBCh+"
    "ARHBmWuNo1UzVVdHXrl8ePL4cccqlazIJdC4QEjrF+Sn4IxBQzTZsL9y9TP5FsZYzHvDqbInkTNigBcE9cKOYNFCn4D/WM7F6"
    "TNuZO9EgtzepLWcjTymlHzK7aXq6Am6sfOrpIC49yXjj3ae6HRalVc/g==:"
)
# Section 4.3: the proxy's rsa-v1_5-sha256 signature of the forwarded request.
PROXY_URL = "https://origin.host.internal.example/foo?param=Value&Pet=dog"
PROXY_HEADERS = {
    **RFC_HEADERS,
    "Host": "origin.host.internal.example",
    "Forwarded": "for=192.0.2.123;host=example.com;proto=https",
}
PROXY_INPUT = (
    'proxy_sig=("@method" "@authority" "@path" "content-digest" "content-type" "content-length" '
    '"forwarded");created=1618884480;keyid="test-key-rsa";alg="rsa-v1_5-sha256";expires=1618884540'
)
PROXY_SIGNATURE = (
    "proxy_sig=:S6ZzPXSdAMOPjN/6KXfXWNO/f7V6cHm7BXYUh3YD/fRad4BCaRZxP+JH+8XY1I6+8Cy+CM5g92iHgxtRPz+Mjn"
    "iOaYmdkDcnL9cCpXJleXsOckpURl49GwiyUpZ10KHgOEe11sx3G2gxI8S0jnxQB+Pu68U9vVcasqOWAEObtNKKZd8tSFu7LB5Y"
    "Av0RAGhB8tmpv7sFnIm9y+7X5kXQfi8NMaZaA8i2ZHwpBdg7a6CMfwnnrtflzvZdXAsD3LH2TwevU+/PBPv0B6NMNk93wUs/v"
    "fJvye+YuI87HU38lZHowtznbLVdp770I6VHR6WfgS9ddzirrswsE1w5o0LV/g==:"
)

INBOX_URL = "https://branch.example/inbox"
ACTIVITY = b'{"type":"Create","actor":"https://peer.example/groups/leeds"}'
NOW = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
KEY_ID = "https://peer.example/groups/leeds#main-key"


def rfc_keys(key_id):
    return {
        "test-key-rsa-pss": public_key("rfc9421-test-key-rsa-pss"),
        "test-key-rsa": public_key("rfc9421-test-key-rsa"),
        "test-key-ed25519": public_key("rfc9421-test-key-ed25519"),
    }.get(key_id)


def rfc_request(signature_input, signature, headers=RFC_HEADERS):
    return {**headers, "Signature-Input": signature_input, "Signature": signature}


@pytest.fixture(scope="module")
def peer_key():
    return private_key("rfc9421-test-key-rsa")


def keys(**by_id):
    return lambda key_id: by_id.get(key_id)


# --- published examples ------------------------------------------------------------------


def test_section_2_5_signature_base_matches_the_rfc():
    base = signature_base("POST", RFC_URL, RFC_HEADERS, SECTION_3_INPUT)
    assert base.decode() == "\n".join(
        [
            '"@method": POST',
            '"@authority": example.com',
            '"@path": /foo',
            f'"content-digest": {RFC_HEADERS["Content-Digest"]}',
            '"content-length": 18',
            '"content-type": application/json',
            '"@signature-params": ' + SECTION_3_INPUT.removeprefix("sig1="),
        ]
    )


def test_section_3_rsa_pss_example_verifies_under_the_default_policy():
    verified = verify_message(
        "POST",
        RFC_URL,
        rfc_request(SECTION_3_INPUT, SECTION_3_SIGNATURE),
        RFC_BODY,
        lookup_key=rfc_keys,
        now=RFC_NOW,
    )
    assert verified.key_id == "test-key-rsa-pss"
    assert verified.algorithm == "rsa-pss-sha512"
    assert verified.label == "sig1"
    assert verified.created == RFC_CREATED


def test_b21_minimal_signature_verifies_but_proves_too_little_for_an_inbox():
    request = rfc_request(B21_INPUT, B21_SIGNATURE)
    verified = verify_message(
        "POST", RFC_URL, request, RFC_BODY, lookup_key=rfc_keys, now=RFC_NOW, policy=ANYTHING
    )
    assert verified.covered_components == ()
    assert verified.nonce == "b3k2pp5k7z-50gnwp.yemd"
    with pytest.raises(SignatureError, match="must cover @method"):
        verify_message("POST", RFC_URL, request, RFC_BODY, lookup_key=rfc_keys, now=RFC_NOW)


def test_b22_selective_components_with_query_param_verify():
    verified = verify_message(
        "POST",
        RFC_URL,
        rfc_request(B22_INPUT, B22_SIGNATURE),
        RFC_BODY,
        lookup_key=rfc_keys,
        now=RFC_NOW,
        policy=SignaturePolicy(require_target=False),
    )
    assert verified.covered_components == (
        "@authority",
        "content-digest",
        '@query-param;name="Pet"',
    )
    assert verified.tag == "header-example"


def test_b23_full_coverage_verifies_under_the_default_policy():
    verified = verify_message(
        "POST",
        RFC_URL,
        rfc_request(B23_INPUT, B23_SIGNATURE),
        RFC_BODY,
        lookup_key=rfc_keys,
        now=RFC_NOW,
    )
    assert "content-digest" in verified.covered_components


def test_signer_reproduces_b26_ed25519_signature():
    signed = sign_message(
        "POST",
        RFC_URL,
        RFC_HEADERS,
        RFC_BODY,
        key_id="test-key-ed25519",
        private_key=private_key("rfc9421-test-key-ed25519"),
        created=RFC_CREATED,
        label="sig-b26",
        include_alg=False,
        components=["date", "@method", "@path", "@authority", "content-type", "content-length"],
    )
    assert signed["Signature-Input"] == B26_INPUT
    assert signed["Signature"] == B26_SIGNATURE
    assert signed["Content-Digest"] == RFC_HEADERS["Content-Digest"]  # kept, not replaced


def test_b26_verifies_but_default_policy_wants_the_content_digest_covered():
    request = rfc_request(B26_INPUT, B26_SIGNATURE)
    verified = verify_message(
        "POST",
        RFC_URL,
        request,
        RFC_BODY,
        lookup_key=rfc_keys,
        now=RFC_NOW,
        policy=SignaturePolicy(require_content_digest=False),
    )
    assert verified.algorithm == "ed25519"
    with pytest.raises(SignatureError, match="must cover content-digest"):
        verify_message("POST", RFC_URL, request, RFC_BODY, lookup_key=rfc_keys, now=RFC_NOW)


def test_signer_reproduces_section_4_3_rsa_v1_5_proxy_signature():
    signed = sign_message(
        "POST",
        PROXY_URL,
        PROXY_HEADERS,
        RFC_BODY,
        key_id="test-key-rsa",
        private_key=private_key("rfc9421-test-key-rsa"),
        created=datetime.fromtimestamp(1618884480, UTC),
        expires=datetime.fromtimestamp(1618884540, UTC),
        label="proxy_sig",
        components=[
            "@method",
            "@authority",
            "@path",
            "content-digest",
            "content-type",
            "content-length",
            "forwarded",
        ],
    )
    assert signed["Signature-Input"] == PROXY_INPUT
    assert signed["Signature"] == PROXY_SIGNATURE


def test_section_4_3_proxy_signature_verifies_until_it_expires():
    request = rfc_request(PROXY_INPUT, PROXY_SIGNATURE, PROXY_HEADERS)
    during = datetime.fromtimestamp(1618884500, UTC)
    verified = verify_message("POST", PROXY_URL, request, RFC_BODY, lookup_key=rfc_keys, now=during)
    assert verified.algorithm == "rsa-v1_5-sha256"
    with pytest.raises(SignatureError, match="expired"):
        verify_message(
            "POST",
            PROXY_URL,
            request,
            RFC_BODY,
            lookup_key=rfc_keys,
            now=datetime.fromtimestamp(1618884541, UTC),
        )


# --- our own signatures ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_name", "algorithm"),
    [
        ("rfc9421-test-key-rsa", None),
        ("rfc9421-test-key-rsa", "rsa-pss-sha512"),
        ("rfc9421-test-key-ed25519", None),
    ],
)
def test_signed_request_verifies(key_name, algorithm):
    key = private_key(key_name)
    signed = sign_message(
        "POST",
        INBOX_URL,
        {"Content-Type": "application/activity+json"},
        ACTIVITY,
        key_id=KEY_ID,
        private_key=key,
        created=NOW,
        algorithm=algorithm,
    )
    assert signed["Content-Digest"].startswith("sha-256=:")
    verified = verify_message(
        "POST", INBOX_URL, signed, ACTIVITY, lookup_key=keys(**{KEY_ID: key.public_key()}), now=NOW
    )
    assert verified.covered_components == ("@method", "@target-uri", "content-digest")
    assert verified.algorithm == (
        algorithm or ("ed25519" if "ed25519" in key_name else "rsa-v1_5-sha256")
    )


def test_get_signature_without_body_needs_no_digest(peer_key):
    signed = sign_message(
        "GET",
        "https://branch.example/outbox?after=7",
        {},
        None,
        key_id=KEY_ID,
        private_key=peer_key,
        created=NOW,
    )
    assert "Content-Digest" not in signed
    verified = verify_message(
        "GET",
        "https://branch.example/outbox?after=7",
        signed,
        b"",
        lookup_key=keys(**{KEY_ID: peer_key.public_key()}),
        now=NOW,
    )
    assert verified.covered_components == ("@method", "@target-uri")


def test_the_first_acceptable_of_several_signatures_is_used(peer_key):
    ours = sign_message(
        "POST",
        INBOX_URL,
        {},
        ACTIVITY,
        key_id=KEY_ID,
        private_key=peer_key,
        created=NOW,
        label="good",
    )
    headers = {
        **ours,
        "Signature-Input": 'weak=();created=1746100800;keyid="x", ' + ours["Signature-Input"],
        "Signature": "weak=:AAAA:, " + ours["Signature"],
    }
    verified = verify_message(
        "POST",
        INBOX_URL,
        headers,
        ACTIVITY,
        lookup_key=keys(**{KEY_ID: peer_key.public_key()}),
        now=NOW,
    )
    assert verified.label == "good"


# --- what we refuse ----------------------------------------------------------------------


def signed_post(key, **overrides):
    arguments = {"key_id": KEY_ID, "private_key": key, "created": NOW} | overrides
    return sign_message("POST", INBOX_URL, {}, ACTIVITY, **arguments)


def verify(headers, *, key=None, body=ACTIVITY, now=NOW, url=INBOX_URL):
    lookup = keys(**({KEY_ID: key} if key is not None else {}))
    return verify_message("POST", url, headers, body, lookup_key=lookup, now=now)


def test_tampered_body_is_refused(peer_key):
    with pytest.raises(SignatureError, match="body does not match its Content-Digest"):
        verify(signed_post(peer_key), key=peer_key.public_key(), body=b'{"type":"Delete"}')


def test_request_to_another_uri_is_refused(peer_key):
    with pytest.raises(SignatureError, match="does not match"):
        verify(signed_post(peer_key), key=peer_key.public_key(), url="https://branch.example/other")


def test_signature_from_another_key_is_refused(peer_key):
    with pytest.raises(SignatureError, match="does not match"):
        verify(signed_post(peer_key), key=public_key("rfc9421-test-key-rsa-pss"))


def test_unknown_key_is_refused(peer_key):
    with pytest.raises(SignatureError, match="no public key known"):
        verify(signed_post(peer_key))


@pytest.mark.parametrize(
    ("now", "message"),
    [
        (NOW + timedelta(hours=1, seconds=1), "too old"),
        (NOW - timedelta(hours=1, seconds=1), "in the future"),
    ],
)
def test_created_more_than_an_hour_away_is_refused(peer_key, now, message):
    with pytest.raises(SignatureError, match=message):
        verify(signed_post(peer_key), key=peer_key.public_key(), now=now)


def test_expired_signature_is_refused(peer_key):
    headers = signed_post(peer_key, expires=NOW - timedelta(seconds=1))
    with pytest.raises(SignatureError, match="expired"):
        verify(headers, key=peer_key.public_key())


@pytest.mark.parametrize(
    ("components", "message"),
    [
        (["@target-uri", "content-digest"], "must cover @method"),
        (["@method", "@authority", "content-digest"], "must cover @method and @target-uri"),
        (["@method", "@target-uri"], "must cover content-digest"),
    ],
)
def test_signatures_that_cover_too_little_are_refused(peer_key, components, message):
    with pytest.raises(SignatureError, match=message):
        verify(signed_post(peer_key, components=components), key=peer_key.public_key())


def test_authority_and_path_may_stand_in_for_target_uri(peer_key):
    headers = signed_post(peer_key, components=["@method", "@authority", "@path", "content-digest"])
    assert verify(headers, key=peer_key.public_key()).key_id == KEY_ID


def signed_post_with_date(key, components):
    return sign_message(
        "POST",
        INBOX_URL,
        {"Date": "Thu, 01 May 2025 12:00:00 GMT"},
        ACTIVITY,
        key_id=KEY_ID,
        private_key=key,
        created=NOW,
        components=components,
    )


def test_signer_refuses_to_cover_a_header_the_request_lacks(peer_key):
    with pytest.raises(ValueError, match="'date' is missing"):
        signed_post(peer_key, components=["@method", "@target-uri", "content-digest", "date"])


def test_covered_header_missing_from_request_is_refused(peer_key):
    headers = signed_post_with_date(peer_key, ["@method", "@target-uri", "content-digest", "date"])
    del headers["Date"]
    with pytest.raises(SignatureError, match="'date' is missing"):
        verify(headers, key=peer_key.public_key())


def test_algorithm_that_does_not_fit_the_key_is_refused(peer_key):
    headers = signed_post(peer_key)
    headers["Signature-Input"] = headers["Signature-Input"].replace("rsa-v1_5-sha256", "ed25519")
    with pytest.raises(SignatureError, match="does not fit an RSA key"):
        verify(headers, key=peer_key.public_key())


def test_unsupported_algorithm_is_refused(peer_key):
    headers = signed_post(peer_key)
    headers["Signature-Input"] = headers["Signature-Input"].replace(
        "rsa-v1_5-sha256", "hmac-sha256"
    )
    with pytest.raises(SignatureError, match="unsupported signature algorithm"):
        verify(headers, key=peer_key.public_key())


def test_structured_field_component_parameters_are_refused(peer_key):
    headers = signed_post_with_date(peer_key, ["@method", "@target-uri", "content-digest", "date"])
    headers["Signature-Input"] = headers["Signature-Input"].replace('"date"', '"date";sf')
    with pytest.raises(SignatureError, match="'sf' is not supported"):
        verify(headers, key=peer_key.public_key())


def test_unsigned_request_is_refused():
    with pytest.raises(SignatureError, match="not signed"):
        verify({"Content-Type": "application/activity+json"})


@pytest.mark.parametrize(
    ("signature_input", "signature", "message"),
    [
        ("sig1=(", "sig1=:AAAA:", "not a structured dictionary"),
        ('sig1=("@method");created=1;keyid="k"', "sig1=AAAA", "no byte sequence"),
        ('sig1=("@method");created=1;keyid="k"', "sig1=:not base64!:", "not a structured"),
        ('sig1="@method";created=1;keyid="k"', "sig1=:AAAA:", "no inner list"),
        ('sig1=("@method");keyid="k"', "sig1=:AAAA:", "no integer created"),
        ('sig1=("@method");created=1746100800', "sig1=:AAAA:", "no keyid"),
        ('sig1=("@Method");created=1746100800;keyid="k"', "sig1=:AAAA:", "not lower case"),
        ('sig1=("date" "date");created=1746100800;keyid="k"', "sig1=:AAAA:", "covered twice"),
        ('sig1=(@method);created=1746100800;keyid="k"', "sig1=:AAAA:", "not a structured"),
        ('sig1=("@method");created=1746100800;keyid="k", sig1=()', "sig1=:AAAA:", "twice"),
    ],
)
def test_malformed_signature_headers_are_malformed_signatures(signature_input, signature, message):
    headers = {"Signature-Input": signature_input, "Signature": signature}
    with pytest.raises(MalformedSignature, match=message):
        verify(headers, key=generate_ed25519_key().public_key())


def test_signature_without_signature_input_is_malformed():
    with pytest.raises(MalformedSignature, match="without Signature-Input"):
        verify({"Signature": "sig1=:AAAA:"})


# --- an independent implementation (the http-message-signatures package) ----------------


class _Resolver(HTTPSignatureKeyResolver):
    def __init__(self, key):
        self.key = key

    def resolve_public_key(self, key_id):
        return self.key.public_key()

    def resolve_private_key(self, key_id):
        return self.key


def _prepared(headers, body=ACTIVITY):
    request = requests.Request("POST", INBOX_URL, headers=headers, data=body).prepare()
    return request


@pytest.mark.parametrize(
    ("key_name", "algorithm"),
    [
        ("rfc9421-test-key-rsa", algorithms.RSA_V1_5_SHA256),
        ("rfc9421-test-key-ed25519", algorithms.ED25519),
    ],
)
def test_package_signature_verifies_here(key_name, algorithm):
    key = private_key(key_name)
    request = _prepared({"Content-Type": "application/activity+json"})
    signer = HTTPMessageSigner(signature_algorithm=algorithm, key_resolver=_Resolver(key))
    signer.sign(
        request,
        key_id=KEY_ID,
        created=NOW,
        body=ACTIVITY,
        covered_component_ids=("@method", "@authority", "@target-uri", "content-digest"),
    )
    verified = verify_message(
        "POST",
        INBOX_URL,
        dict(request.headers),
        ACTIVITY,
        lookup_key=keys(**{KEY_ID: key.public_key()}),
        now=NOW,
    )
    assert verified.label == "pyhms"


@pytest.mark.parametrize(
    ("key_name", "algorithm"),
    [
        ("rfc9421-test-key-rsa", algorithms.RSA_V1_5_SHA256),
        ("rfc9421-test-key-ed25519", algorithms.ED25519),
    ],
)
def test_our_signature_verifies_with_the_package(key_name, algorithm):
    key = private_key(key_name)
    signed = sign_message(
        "POST",
        INBOX_URL,
        {"Content-Type": "application/activity+json"},
        ACTIVITY,
        key_id=KEY_ID,
        private_key=key,
        created=datetime.now(UTC),
    )
    request = _prepared(signed)
    verifier = HTTPMessageVerifier(signature_algorithm=algorithm, key_resolver=_Resolver(key))
    (result,) = verifier.verify(request, body=ACTIVITY, require_components=("content-digest",))
    assert result.parameters["keyid"] == KEY_ID
