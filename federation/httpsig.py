"""draft-cavage-http-signatures-12, the HTTP signatures Mastodon and most of the fediverse use.

Outbound requests are signed ``rsa-sha256`` over ``(request-target) host date digest`` as
Mastodon expects. Inbound, the signer's header order is honoured and Mastodon's rules for
what must be covered are enforced (see ``verify_request``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import ed25519

from federation import algorithms
from federation.digests import check_digest_header, digest_header
from federation.errors import MalformedSignature, SignatureError
from federation.http_fields import (
    HeaderSource,
    http_date,
    normalise_headers,
    parse_http_date,
)
from federation.http_fields import (
    path_with_query as request_target_of,
)
from federation.keys import PrivateKey, PublicKey
from federation.urls import authority

DEFAULT_MAX_SKEW = 3600  # seconds a Date may differ from our clock, as Mastodon allows

RSA_SHA256 = "rsa-sha256"
HS2019 = "hs2019"

_PARAMETER = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([0-9]+(?:\.[0-9]+)?))\s*')
_BODYLESS_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Verified:
    """A request whose draft-cavage signature checked out."""

    key_id: str
    covered_headers: tuple[str, ...]
    algorithm: str


def sign_request(
    method: str,
    url: str,
    headers: HeaderSource,
    body: bytes | None,
    key_id: str,
    private_key: PrivateKey,
    now: datetime,
    *,
    covered: Sequence[str] | None = None,
) -> dict[str, str]:
    """Return ``headers`` plus Date, Host, Digest (when there is a body) and Signature.

    ``covered`` overrides the signed header list; by default a body-less request covers
    ``(request-target) host date`` and one with a body adds ``digest`` and, when present,
    ``content-type``.
    """
    added = {"Date": http_date(now), "Host": authority(url)}
    if body is not None:
        added["Digest"] = digest_header(body)
    replaced = {name.lower() for name in added} | {"signature"}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    outgoing = {name: value for name, value in pairs if name.lower() not in replaced} | added
    fields = normalise_headers(outgoing)
    if covered is None:
        covered = ["(request-target)", "host", "date"]
        if body is not None:
            covered.append("digest")
            if "content-type" in fields:
                covered.append("content-type")
    names = [name.lower() for name in covered]
    signing_string = _signing_string(names, method, request_target_of(url), fields, {})
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        algorithm_name, algorithm = HS2019, algorithms.ED25519
    else:
        algorithm_name, algorithm = RSA_SHA256, algorithms.RSA_V1_5_SHA256
    signature = algorithms.sign_bytes(algorithm, private_key, signing_string.encode("utf-8"))
    outgoing["Signature"] = (
        f'keyId="{key_id}",algorithm="{algorithm_name}",headers="{" ".join(names)}",'
        f'signature="{base64.b64encode(signature).decode("ascii")}"'
    )
    return outgoing


def verify_request(
    method: str,
    path_with_query: str,
    headers: HeaderSource,
    body: bytes,
    *,
    lookup_key: Callable[[str], PublicKey | None],
    now: datetime,
    max_skew: float = DEFAULT_MAX_SKEW,
) -> Verified:
    """Check a draft-cavage signature; raise MalformedSignature (400) or SignatureError (401).

    The signature must cover ``date`` or ``(created)`` and ``(request-target)`` or
    ``digest``; a POST (or any request with a body) must cover ``digest`` and the digest
    must match the body; a GET must cover ``host``. The Date (and ``created``) must be
    within ``max_skew`` seconds of ``now``.
    """
    fields = normalise_headers(headers)
    params = _signature_parameters(fields)
    key_id = params["keyId"]
    names = _covered_names(params)
    _check_coverage(method, names, body)
    signing_string = _signing_string(names, method, path_with_query, fields, params)
    _check_freshness(names, fields, params, now, max_skew)
    if "digest" in names:
        check_digest_header(fields["digest"], body)
    signature = _decode_signature(params["signature"])

    key = lookup_key(key_id)
    if key is None:
        raise SignatureError(f"no public key known for keyId {key_id!r}")
    algorithm_name = params.get("algorithm", HS2019).lower()
    if algorithm_name == RSA_SHA256:
        candidates: tuple[str, ...] = (algorithms.RSA_V1_5_SHA256,)
    elif algorithm_name == HS2019:
        # hs2019 leaves the algorithm to the key; RSA signers in the wild use PKCS#1 v1.5.
        candidates = algorithms.algorithms_for_key(key)
    else:
        raise SignatureError(f"unsupported signature algorithm {algorithm_name!r}")
    data = signing_string.encode("utf-8")
    if not any(algorithms.verify_bytes(name, key, signature, data) for name in candidates):
        raise SignatureError("signature does not match the request")
    return Verified(key_id=key_id, covered_headers=tuple(names), algorithm=algorithm_name)


def parse_signature_header(value: str) -> dict[str, str]:
    """Parse the parameters of a ``Signature`` header (or ``Authorization: Signature …``)."""
    text = value.strip()
    if text[:10].lower() == "signature ":
        text = text[10:]
    params: dict[str, str] = {}
    position = 0
    while position < len(text):
        found = _PARAMETER.match(text, position)
        if found is None:
            raise MalformedSignature(f"cannot parse Signature header at {text[position:]!r}")
        name = found.group(1)
        if name in params:
            raise MalformedSignature(f"Signature parameter {name} appears twice")
        quoted, number = found.group(2), found.group(3)
        params[name] = quoted if quoted is not None else number
        position = found.end()
        if position < len(text):
            if text[position] != ",":
                raise MalformedSignature(f"expected ',' in Signature header at {text[position:]!r}")
            position += 1
            if position == len(text):
                raise MalformedSignature("Signature header ends with a comma")
    for required in ("keyId", "signature"):
        if not params.get(required):
            raise MalformedSignature(f"Signature header has no {required}")
    for timestamp in ("created", "expires"):
        if timestamp in params and not re.fullmatch(r"[0-9]+(\.[0-9]+)?", params[timestamp]):
            raise MalformedSignature(f"Signature {timestamp} is not a Unix timestamp")
    return params


def _signature_parameters(fields: dict[str, str]) -> dict[str, str]:
    if "signature" in fields:
        return parse_signature_header(fields["signature"])
    authorization = fields.get("authorization", "")
    if authorization[:10].lower() == "signature ":
        return parse_signature_header(authorization)
    raise SignatureError("request is not signed")


def _covered_names(params: dict[str, str]) -> list[str]:
    # draft-cavage-12 makes "(created)" the default, but the published examples and
    # Mastodon treat a missing list as "date".
    names = params.get("headers", "date").lower().split()
    if not names:
        raise MalformedSignature("Signature headers parameter is empty")
    if len(set(names)) != len(names):
        raise MalformedSignature("Signature headers parameter names a header twice")
    return names


def _check_coverage(method: str, names: Sequence[str], body: bytes) -> None:
    covered = set(names)
    if not covered & {"date", "(created)"}:
        raise SignatureError("signature must cover the date or (created)")
    if not covered & {"(request-target)", "digest"}:
        raise SignatureError("signature must cover (request-target) or digest")
    if (method.upper() == "POST" or body) and "digest" not in covered:
        raise SignatureError("signature of a request with a body must cover digest")
    if method.upper() in _BODYLESS_METHODS and "host" not in covered:
        raise SignatureError(f"signature of a {method.upper()} must cover host")


def _signing_string(
    names: Sequence[str],
    method: str,
    target: str,
    fields: dict[str, str],
    params: dict[str, str],
) -> str:
    lines = []
    for name in names:
        if name == "(request-target)":
            value = f"{method.lower()} {target}"
        elif name in ("(created)", "(expires)"):
            value = params.get(name[1:-1], "")
            if not value:
                raise MalformedSignature(
                    f"{name} is covered but the {name[1:-1]} parameter is missing"
                )
        elif name in fields:
            value = fields[name]
        else:
            raise SignatureError(f"covered header {name!r} is missing from the request")
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def _check_freshness(
    names: Sequence[str],
    fields: dict[str, str],
    params: dict[str, str],
    now: datetime,
    max_skew: float,
) -> None:
    if "date" in names:
        try:
            sent = parse_http_date(fields["date"])
        except ValueError as error:
            raise MalformedSignature(str(error)) from error
        if abs((now - sent).total_seconds()) > max_skew:
            raise SignatureError(f"Date {fields['date']!r} is too far from the current time")
    timestamp = now.timestamp()
    if "created" in params:
        created = float(params["created"])
        if created > timestamp + max_skew:
            raise SignatureError("signature was created in the future")
        if "(created)" in names and created < timestamp - max_skew:
            raise SignatureError("signature is too old")
    if "expires" in params and float(params["expires"]) < timestamp:
        raise SignatureError("signature has expired")


def _decode_signature(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as error:
        raise MalformedSignature("signature is not base64") from error
