"""RFC 9421 HTTP Message Signatures (``Signature-Input`` / ``Signature``) for requests.

Verification resolves the derived components a request can have (``@method``,
``@target-uri``, ``@authority``, ``@scheme``, ``@request-target``, ``@path``, ``@query``,
``@query-param``) and plain header fields; component parameters that re-encode fields
(``sf``, ``key``, ``bs``, ``tr``) and response-only components are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit

from federation import algorithms
from federation.digests import check_content_digest, content_digest_header
from federation.errors import MalformedSignature, SignatureError
from federation.http_fields import HeaderSource, normalise_headers
from federation.keys import PrivateKey, PublicKey
from federation.structured_fields import (
    InnerList,
    Item,
    Parameters,
    StructuredFieldError,
    parse_dictionary,
    parse_item,
    serialize_dictionary,
    serialize_inner_list,
    serialize_item,
    serialize_parameters,
)
from federation.urls import authority

DEFAULT_MAX_SKEW = 3600  # seconds ``created`` may differ from our clock

_DERIVED = frozenset(
    {
        "@method",
        "@target-uri",
        "@authority",
        "@scheme",
        "@request-target",
        "@path",
        "@query",
        "@query-param",
    }
)
_UNSUPPORTED_COMPONENT_PARAMS = frozenset({"sf", "key", "bs", "req", "tr"})


@dataclass(frozen=True)
class SignaturePolicy:
    """What an RFC 9421 signature must cover before it is trusted.

    By default the method and the target (``@target-uri``, or ``@authority`` with
    ``@path`` or ``@request-target``) must be covered, and so must ``content-digest`` when
    the request has a body.
    """

    require_target: bool = True
    require_content_digest: bool = True


@dataclass(frozen=True)
class VerifiedMessage:
    """A request whose RFC 9421 signature checked out."""

    key_id: str
    label: str
    covered_components: tuple[str, ...]
    algorithm: str
    created: datetime
    tag: str | None = None
    nonce: str | None = None


def sign_message(
    method: str,
    url: str,
    headers: HeaderSource,
    body: bytes | None,
    *,
    key_id: str,
    private_key: PrivateKey,
    created: datetime,
    label: str = "sig1",
    components: Sequence[str] | None = None,
    algorithm: str | None = None,
    include_alg: bool = True,
    expires: datetime | None = None,
    nonce: str | None = None,
    tag: str | None = None,
) -> dict[str, str]:
    """Return ``headers`` plus Signature-Input, Signature and, for a body, Content-Digest.

    ``components`` are component identifiers as they appear in ``Signature-Input``
    without quotes (``@method``, ``content-type``, ``@query-param;name="Pet"``); by default
    ``@method`` and ``@target-uri``, plus ``content-digest`` for a body.
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    outgoing = {
        name: value for name, value in pairs if name.lower() not in ("signature", "signature-input")
    }
    fields = normalise_headers(outgoing)
    if body is not None and "content-digest" not in fields:
        outgoing["Content-Digest"] = content_digest_header(body)
        fields = normalise_headers(outgoing)
    if components is None:
        components = ["@method", "@target-uri"] + (["content-digest"] if body is not None else [])
    algorithm = algorithm or algorithms.algorithms_for_key(private_key)[0]
    params: list[tuple[str, int | str]] = [
        ("created", int(created.timestamp())),
        ("keyid", key_id),
    ]
    if include_alg:
        params.append(("alg", algorithm))
    if expires is not None:
        params.append(("expires", int(expires.timestamp())))
    if nonce is not None:
        params.append(("nonce", nonce))
    if tag is not None:
        params.append(("tag", tag))
    items = tuple(_component_item(component) for component in components)
    signature_params = InnerList(items, tuple(params))
    try:
        base = _signature_base(signature_params, method, url, fields)
    except (MalformedSignature, SignatureError) as error:
        raise ValueError(f"cannot sign this request: {error}") from error
    signature = algorithms.sign_bytes(algorithm, private_key, base)
    outgoing["Signature-Input"] = f"{label}={serialize_inner_list(signature_params)}"
    outgoing["Signature"] = serialize_dictionary({label: Item(signature)})
    return outgoing


def verify_message(
    method: str,
    url: str,
    headers: HeaderSource,
    body: bytes,
    *,
    lookup_key: Callable[[str], PublicKey | None],
    now: datetime,
    max_skew: float = DEFAULT_MAX_SKEW,
    policy: SignaturePolicy | None = None,
    label: str | None = None,
) -> VerifiedMessage:
    """Check an RFC 9421 signature; raise MalformedSignature (400) or SignatureError (401).

    ``url`` is the full target URI as this server was asked for it. When several
    signatures are present (and no ``label`` is named), the first one that satisfies the
    policy and verifies is returned; if none does, the first one's error is raised.
    """
    policy = policy or SignaturePolicy()
    fields = normalise_headers(headers)
    inputs, signatures = _signature_dictionaries(fields)
    labels = [label] if label is not None else list(inputs)
    first_error: Exception | None = None
    for candidate in labels:
        try:
            return _verify_one(
                candidate,
                inputs,
                signatures,
                method,
                url,
                fields,
                body,
                lookup_key=lookup_key,
                now=now,
                max_skew=max_skew,
                policy=policy,
            )
        except (MalformedSignature, SignatureError) as error:
            first_error = first_error or error
    if first_error is None:
        raise MalformedSignature("Signature-Input holds no signatures")
    raise first_error


def signature_base(method: str, url: str, headers: HeaderSource, signature_input: str) -> bytes:
    """Return the signature base one ``label=(…);params`` member of Signature-Input describes."""
    members = _parse(signature_input, "Signature-Input")
    if len(members) != 1:
        raise MalformedSignature("expected exactly one Signature-Input member")
    (inner,) = members.values()
    if not isinstance(inner, InnerList):
        raise MalformedSignature("Signature-Input member is not an inner list")
    return _signature_base(inner, method, url, normalise_headers(headers))


def _verify_one(
    label: str,
    inputs: dict[str, InnerList | Item],
    signatures: dict[str, InnerList | Item],
    method: str,
    url: str,
    fields: dict[str, str],
    body: bytes,
    *,
    lookup_key: Callable[[str], PublicKey | None],
    now: datetime,
    max_skew: float,
    policy: SignaturePolicy,
) -> VerifiedMessage:
    inner = inputs.get(label)
    signature_item = signatures.get(label)
    if not isinstance(inner, InnerList):
        raise MalformedSignature(f"Signature-Input has no inner list labelled {label!r}")
    if not isinstance(signature_item, Item) or not isinstance(signature_item.value, bytes):
        raise MalformedSignature(f"Signature has no byte sequence labelled {label!r}")

    created_value = inner.param("created")
    key_id = inner.param("keyid")
    if not isinstance(created_value, int) or isinstance(created_value, bool):
        raise MalformedSignature("signature has no integer created parameter")
    if not isinstance(key_id, str) or not key_id:
        raise MalformedSignature("signature has no keyid parameter")
    covered = _covered_ids(inner)
    _check_policy(covered, body, policy)

    timestamp = now.timestamp()
    if created_value > timestamp + max_skew:
        raise SignatureError("signature was created in the future")
    if created_value < timestamp - max_skew:
        raise SignatureError("signature is too old")
    expires = inner.param("expires")
    if expires is not None:
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise MalformedSignature("signature expires parameter is not an integer")
        if expires < timestamp:
            raise SignatureError("signature has expired")

    base = _signature_base(inner, method, url, fields)
    if "content-digest" in covered:
        check_content_digest(fields["content-digest"], body)

    key = lookup_key(key_id)
    if key is None:
        raise SignatureError(f"no public key known for keyid {key_id!r}")
    alg = inner.param("alg")
    if alg is None:
        candidates = algorithms.algorithms_for_key(key)
    elif isinstance(alg, str) and alg in algorithms.SUPPORTED:
        candidates = (alg,)
    else:
        raise SignatureError(f"unsupported signature algorithm {alg!r}")
    verified = next(
        (
            name
            for name in candidates
            if algorithms.verify_bytes(name, key, signature_item.value, base)
        ),
        None,
    )
    if verified is None:
        raise SignatureError("signature does not match the request")
    tag, nonce = inner.param("tag"), inner.param("nonce")
    return VerifiedMessage(
        key_id=key_id,
        label=label,
        covered_components=covered,
        algorithm=verified,
        created=datetime.fromtimestamp(created_value, UTC),
        tag=tag if isinstance(tag, str) else None,
        nonce=nonce if isinstance(nonce, str) else None,
    )


def _signature_dictionaries(
    fields: dict[str, str],
) -> tuple[dict[str, InnerList | Item], dict[str, InnerList | Item]]:
    if "signature-input" not in fields and "signature" not in fields:
        raise SignatureError("request is not signed")
    if "signature-input" not in fields:
        raise MalformedSignature("Signature without Signature-Input")
    if "signature" not in fields:
        raise MalformedSignature("Signature-Input without Signature")
    return _parse(fields["signature-input"], "Signature-Input"), _parse(
        fields["signature"], "Signature"
    )


def _parse(value: str, name: str) -> dict[str, InnerList | Item]:
    try:
        return parse_dictionary(value)
    except StructuredFieldError as error:
        raise MalformedSignature(f"{name} is not a structured dictionary: {error}") from error


def _covered_ids(inner: InnerList) -> tuple[str, ...]:
    ids: list[str] = []
    for item in inner.items:
        if not isinstance(item.value, str):
            raise MalformedSignature("component identifiers must be strings")
        if item.value != item.value.lower():
            raise MalformedSignature(f"component identifier {item.value!r} is not lower case")
        # Shown unquoted, as sign_message takes them: @query-param;name="Pet".
        ids.append(item.value + serialize_parameters(item.params))
    if len(set(ids)) != len(ids):
        raise MalformedSignature("a component is covered twice")
    return tuple(ids)


def _check_policy(covered: Sequence[str], body: bytes, policy: SignaturePolicy) -> None:
    names = set(covered)
    if policy.require_target:
        has_target = "@target-uri" in names or (
            "@authority" in names and bool(names & {"@path", "@request-target"})
        )
        if "@method" not in names or not has_target:
            raise SignatureError(
                "signature must cover @method and @target-uri (or @authority and @path)"
            )
    if policy.require_content_digest and body and "content-digest" not in names:
        raise SignatureError("signature of a request with a body must cover content-digest")


def _component_item(component: str) -> Item:
    try:
        item = parse_item(component if component.startswith('"') else _quote_name(component))
    except StructuredFieldError as error:
        raise ValueError(f"bad component identifier {component!r}: {error}") from error
    return item


def _quote_name(component: str) -> str:
    name, sep, params = component.partition(";")
    return f'"{name}"{sep}{params}'


def _signature_base(inner: InnerList, method: str, url: str, fields: dict[str, str]) -> bytes:
    lines = []
    for item in inner.items:
        if not isinstance(item.value, str):
            raise MalformedSignature("component identifiers must be strings")
        value = _component_value(item.value, item.params, method, url, fields)
        if "\n" in value or "\r" in value:
            raise SignatureError(f"component {item.value!r} holds a line break")
        lines.append(f"{serialize_item(item)}: {value}")
    lines.append(f'"@signature-params": {serialize_inner_list(inner)}')
    return "\n".join(lines).encode("utf-8")


def _component_value(
    name: str, params: Parameters, method: str, url: str, fields: dict[str, str]
) -> str:
    unsupported = {key for key, _ in params} & _UNSUPPORTED_COMPONENT_PARAMS
    if unsupported:
        raise SignatureError(f"component parameter {sorted(unsupported)[0]!r} is not supported")
    if not name.startswith("@"):
        if name not in fields:
            raise SignatureError(f"covered header {name!r} is missing from the request")
        return fields[name]
    if name not in _DERIVED:
        raise SignatureError(f"derived component {name!r} is not supported on requests")
    parts = urlsplit(url)
    path = parts.path or "/"
    if name == "@method":
        return method.upper()
    if name == "@target-uri":
        return url
    if name == "@authority":
        return authority(url)
    if name == "@scheme":
        return parts.scheme.lower()
    if name == "@path":
        return path
    if name == "@query":
        return f"?{parts.query}"
    if name == "@request-target":
        return f"{path}?{parts.query}" if parts.query else path
    wanted = dict(params).get("name")
    if not isinstance(wanted, str):
        raise MalformedSignature("@query-param needs a name parameter")
    values = [
        _query_encode(value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if _query_encode(key) == wanted
    ]
    if len(values) != 1:
        raise SignatureError(f"query parameter {wanted!r} is missing or repeated")
    return values[0]


def _query_encode(text: str) -> str:
    # RFC 9421 2.2.8: decoded as form data, then percent-encoded again.
    return quote(text, safe="")
