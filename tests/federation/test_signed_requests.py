"""An inbox accepts either signature scheme through one call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from federation.errors import SignatureError
from federation.httpsig import Verified, sign_request
from federation.message_signatures import VerifiedMessage, sign_message
from federation.signed_requests import verify_signed_request
from tests.federation.conftest import private_key

URL = "https://branch.example/inbox"
BODY = b'{"type":"Follow"}'
NOW = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
KEY_ID = "https://peer.example/groups/leeds#main-key"


@pytest.fixture(scope="module")
def key():
    return private_key("rfc9421-test-key-rsa")


def test_draft_cavage_request_is_verified_as_draft_cavage(key):
    signed = sign_request("POST", URL, {}, BODY, KEY_ID, key, NOW)
    verified = verify_signed_request(
        "POST", URL, signed, BODY, lookup_key={KEY_ID: key.public_key()}.get, now=NOW
    )
    assert isinstance(verified, Verified)
    assert verified.key_id == KEY_ID


def test_rfc9421_request_is_verified_as_rfc9421(key):
    signed = sign_message("POST", URL, {}, BODY, key_id=KEY_ID, private_key=key, created=NOW)
    verified = verify_signed_request(
        "POST", URL, list(signed.items()), BODY, lookup_key={KEY_ID: key.public_key()}.get, now=NOW
    )
    assert isinstance(verified, VerifiedMessage)
    assert verified.key_id == KEY_ID


def test_unsigned_request_is_refused():
    with pytest.raises(SignatureError, match="not signed"):
        verify_signed_request("POST", URL, {}, BODY, lookup_key=lambda _: None, now=NOW)
