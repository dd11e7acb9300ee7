"""Verify an inbound request signed with either scheme: RFC 9421 if present, else draft-cavage."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from federation.http_fields import HeaderSource, normalise_headers, path_with_query
from federation.httpsig import DEFAULT_MAX_SKEW, Verified, verify_request
from federation.keys import PublicKey
from federation.message_signatures import VerifiedMessage, verify_message


def verify_signed_request(
    method: str,
    url: str,
    headers: HeaderSource,
    body: bytes,
    *,
    lookup_key: Callable[[str], PublicKey | None],
    now: datetime,
    max_skew: float = DEFAULT_MAX_SKEW,
) -> Verified | VerifiedMessage:
    """Check whichever signature a request carries; raise MalformedSignature or SignatureError.

    ``url`` is the full URI this server was asked for (RFC 9421 covers the scheme and host);
    draft-cavage only needs its path and query.
    """
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    if "signature-input" in normalise_headers(pairs):
        return verify_message(
            method, url, pairs, body, lookup_key=lookup_key, now=now, max_skew=max_skew
        )
    return verify_request(
        method, path_with_query(url), pairs, body, lookup_key=lookup_key, now=now, max_skew=max_skew
    )
