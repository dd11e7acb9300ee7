"""The Idempotency-Key header on API writes: run once, answer every retry alike for a day.

See node/services/idempotency.py for the rules; this module reads the header, fingerprints
the request, and turns a stored answer back into a response.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import current_app, request

from ...models import Member, utcnow
from ...services import idempotency
from ...services.errors import Invalid

HEADER = "Idempotency-Key"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LONGEST_KEY = 255
# What a replay sends again besides the body: enough to read the answer as the first time.
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag", "Link", "Cache-Control")


def _key() -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    # RFC 8941 would quote it as a string; a bare token is accepted too, as most clients send.
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        key = key[1:-1]
    if not 1 <= len(key) <= LONGEST_KEY or not all(0x21 <= ord(c) <= 0x7E for c in key):
        raise Invalid.on(HEADER, f"Send 1 to {LONGEST_KEY} visible ASCII characters.")
    return key


def fingerprint() -> str:
    """Return a hash of what makes this request the request it is: method, address, body."""
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode() + b"\n")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def run_once(member: Member | None, view: Callable[[], Any]) -> Any:
    """Run ``view`` for this request, or replay its stored answer when the key was seen."""
    key = _key() if request.method in WRITES else None
    if key is None or member is None:
        return view()
    claimed = idempotency.claim(member.id, key, fingerprint(), utcnow())
    if isinstance(claimed, idempotency.Answer):
        response = current_app.response_class(claimed.body, claimed.status)
        response.headers.update(claimed.headers)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    try:
        response = current_app.make_response(view())
    except BaseException:
        _release(claimed)  # refusals and failures are answered afresh to a retry
        raise
    if response.status_code >= 500:
        _release(claimed)
        return response
    headers = {
        name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers
    }
    idempotency.record(
        claimed, idempotency.Answer(response.status_code, headers, response.get_data())
    )
    return response


def _release(claimed: int) -> None:
    try:
        idempotency.release(claimed)
    except Exception:  # noqa: BLE001 - the first failure is the one to answer
        # The database is failing: the claim stays, and retries hear 409 until it expires.
        current_app.logger.warning("Could not release an Idempotency-Key claim", exc_info=True)
