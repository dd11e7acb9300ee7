"""Body digests: ``Digest`` (RFC 3230, for draft-cavage) and ``Content-Digest`` (RFC 9530)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from federation.errors import MalformedSignature, SignatureError
from federation.structured_fields import (
    Item,
    StructuredFieldError,
    parse_dictionary,
    serialize_dictionary,
)

# Names as they appear in each header; both are matched case-insensitively on input.
_DIGEST_ALGORITHMS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def digest_header(body: bytes) -> str:
    """Build the ``Digest`` value Mastodon expects: ``SHA-256=<base64>``."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def check_digest_header(value: str, body: bytes) -> None:
    """Check a ``Digest`` header against the body; every supported algorithm listed must match."""
    checked = 0
    for entry in value.split(","):
        name, sep, encoded = entry.strip().partition("=")
        if not sep:
            raise MalformedSignature(f"Digest entry {entry.strip()!r} has no '='")
        algorithm = _DIGEST_ALGORITHMS.get(name.strip().lower())
        if algorithm is None:
            continue
        try:
            expected = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error as error:
            raise MalformedSignature(f"Digest {name} is not base64") from error
        if not hmac.compare_digest(expected, algorithm(body).digest()):
            raise SignatureError(f"body does not match its Digest {name}")
        checked += 1
    if not checked:
        raise SignatureError("Digest header names no supported algorithm (SHA-256, SHA-512)")


def content_digest_header(body: bytes, algorithm: str = "sha-256") -> str:
    """Build an RFC 9530 ``Content-Digest`` value such as ``sha-256=:<base64>:``."""
    digest = _DIGEST_ALGORITHMS[algorithm](body).digest()
    return serialize_dictionary({algorithm: Item(digest)})


def check_content_digest(value: str, body: bytes) -> None:
    """Check a ``Content-Digest`` header against the body; every supported digest must match."""
    try:
        members = parse_dictionary(value)
    except StructuredFieldError as error:
        raise MalformedSignature(
            f"Content-Digest is not a structured dictionary: {error}"
        ) from error
    checked = 0
    for name, member in members.items():
        algorithm = _DIGEST_ALGORITHMS.get(name)
        if algorithm is None:
            continue
        if not isinstance(member, Item) or not isinstance(member.value, bytes):
            raise MalformedSignature(f"Content-Digest {name} is not a byte sequence")
        if not hmac.compare_digest(member.value, algorithm(body).digest()):
            raise SignatureError(f"body does not match its Content-Digest {name}")
        checked += 1
    if not checked:
        raise SignatureError("Content-Digest names no supported algorithm (sha-256, sha-512)")
