"""The one HTTP client every remote fetch and delivery goes through.

It owns what makes talking to strangers safe: the private-address guard (the resolved
address is checked and then connected to, never the name a second time), timeouts and an
overall deadline, a response size cap, ActivityPub content types only, redirects followed
by hand and only within the origin, and HTTP signatures on every request that asks for
them. Nothing here reads the environment: proxies and ``.netrc`` are ignored on purpose,
since a proxy would connect to the name instead of the vetted address. How a request
reaches the vetted address (pinning, keep-alive) is federation.connections.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3
from requests.auth import AuthBase
from requests.structures import CaseInsensitiveDict

from federation.addresses import AddressPolicy, Resolver, system_resolver, vet_host
from federation.connections import SessionPool, Timeouts, send_pinned
from federation.errors import (
    CrossOriginRedirect,
    FetchError,
    FetchTimeout,
    ResponseTooLarge,
    TooManyRedirects,
    UnacceptableContentType,
)
from federation.http_fields import parse_http_date
from federation.httpsig import sign_request
from federation.keys import PrivateKey
from federation.urls import DEFAULT_PORTS, Origin, authority, origin, same_origin

ACTIVITY_JSON = "application/activity+json"
ACTIVITYSTREAMS_PROFILE = "https://www.w3.org/ns/activitystreams"
LD_JSON_ACTIVITYSTREAMS = f'application/ld+json; profile="{ACTIVITYSTREAMS_PROFILE}"'

# What each kind of fetch accepts; the first is what we ask for most.
ACTIVITYPUB_TYPES: tuple[str, ...] = (ACTIVITY_JSON, LD_JSON_ACTIVITYSTREAMS)
WEBFINGER_TYPES: tuple[str, ...] = ("application/jrd+json", "application/json")
JSON_TYPES: tuple[str, ...] = ("application/json",)

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_REDIRECTS = 3
DEFAULT_USER_AGENT = "Branchline/0.1 (+https://branchline.example/)"

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRYABLE_STATUSES = frozenset({408, 425, 429})
_CHUNK = 64 * 1024
_DRAIN_LIMIT = 64 * 1024  # most of an inbox's answer we read to keep the connection


@dataclass(frozen=True)
class FetchResult:
    """A fetched JSON document and the response it came in (header names lower-cased)."""

    url: str  # after any redirects
    status: int
    headers: Mapping[str, str]
    document: dict[str, Any]
    raw: bytes


class Fetch(Protocol):
    """A GET of a JSON document with the policy, signer and timeouts already chosen."""

    def __call__(self, url: str, *, accept: Sequence[str] = ACTIVITYPUB_TYPES) -> FetchResult: ...


@dataclass(frozen=True)
class DeliveryResult:
    """How a peer answered a POST (header names lower-cased)."""

    status: int
    retry_after: float | None
    headers: Mapping[str, str]

    @property
    def delivered(self) -> bool:
        """Tell whether the peer accepted the delivery (any 2xx)."""
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Tell whether a failed delivery is worth trying again later."""
        return not self.delivered and is_retryable_status(self.status)


class HttpSignatureAuth(AuthBase):
    """Sign each request (draft-cavage, as Mastodon expects) as it is sent."""

    def __init__(self, key_id: str, private_key: PrivateKey, clock: Callable[[], datetime]):
        self.key_id = key_id
        self.private_key = private_key
        self.clock = clock

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add Date, Host, Digest (with a body) and Signature to ``request``."""
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        if body is not None and not isinstance(body, bytes):
            raise TypeError("signed requests need the body as bytes")
        signed = sign_request(
            request.method or "GET",
            request.url or "",
            list(request.headers.items()),
            body,
            self.key_id,
            self.private_key,
            self.clock(),
        )
        request.headers = CaseInsensitiveDict(signed)
        return request


def is_retryable_status(status: int) -> bool:
    """Tell whether an HTTP status means "try again later" rather than "never"."""
    return status >= 500 or status in _RETRYABLE_STATUSES


def parse_retry_after(value: str | None, *, now: datetime | None) -> float | None:
    """Turn a ``Retry-After`` value (seconds or an HTTP date) into seconds from ``now``."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    if now is None:
        return None
    try:
        moment = parse_http_date(text)
    except ValueError:
        return None
    return max(0.0, (moment - now).total_seconds())


def content_type_accepted(content_type: str | None, accepted: Sequence[str]) -> bool:
    """Tell whether a Content-Type is one of ``accepted`` (a listed profile must be present)."""
    if not content_type:
        return False
    received = _media_type(content_type)
    for wanted in accepted:
        wanted_type = _media_type(wanted)
        if wanted_type.get_content_type() != received.get_content_type():
            continue
        profile = wanted_type.get_param("profile")
        if profile is None:
            return True
        offered = received.get_param("profile")
        if isinstance(offered, str) and str(profile) in offered.split():
            return True
    return False


def fetch_json(
    url: str,
    *,
    sign: HttpSignatureAuth | None,
    accept: Sequence[str] = ACTIVITYPUB_TYPES,
    policy: AddressPolicy,
    resolver: Resolver = system_resolver,
    timeouts: Timeouts = Timeouts(),
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    user_agent: str = DEFAULT_USER_AGENT,
    ca_bundle: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FetchResult:
    """GET a JSON document from a peer; raise a FetchError subclass saying why it failed.

    Redirects are followed up to ``max_redirects`` times, only within the origin of
    ``url``, each hop vetted and signed afresh. ``sign`` is required so an unsigned fetch
    is a visible choice (pass None, e.g. for WebFinger). ``clock`` only serves to read a
    ``Retry-After`` date when the peer sent no ``Date`` of its own.
    """
    deadline = time.monotonic() + timeouts.total
    headers = {"Accept": ", ".join(accept), "User-Agent": user_agent}
    url = _normalise(url)
    current = url
    for _hop in range(max_redirects + 1):
        with _exchange(
            "GET",
            current,
            headers=headers,
            body=None,
            sign=sign,
            policy=policy,
            resolver=resolver,
            timeouts=timeouts,
            deadline=deadline,
            ca_bundle=ca_bundle,
        ) as response:
            status = response.status_code
            if status in _REDIRECT_STATUSES:
                current = _redirect_target(url, current, response)
                continue
            answered = _headers(response)
            if not 200 <= status < 300:
                raise FetchError(
                    f"GET {current} answered {status}",
                    url=current,
                    status=status,
                    retryable=is_retryable_status(status),
                    retry_after=_retry_after(answered, clock),
                )
            content_type = answered.get("content-type", "")
            if not content_type_accepted(content_type, accept):
                raise UnacceptableContentType(
                    f"GET {current} answered {content_type or 'no content type'}, "
                    f"not one of {', '.join(accept)}",
                    url=current,
                    status=status,
                    content_type=content_type,
                )
            raw = _read_capped(response, current, max_bytes, deadline)
            return FetchResult(current, status, answered, _parse_object(raw, current, status), raw)
    raise TooManyRedirects(f"GET {url} redirected more than {max_redirects} times", url=url)


def post_json(
    url: str,
    body: bytes,
    *,
    sign: HttpSignatureAuth | None,
    content_type: str = ACTIVITY_JSON,
    policy: AddressPolicy,
    resolver: Resolver = system_resolver,
    timeouts: Timeouts = Timeouts(),
    user_agent: str = DEFAULT_USER_AGENT,
    ca_bundle: str | None = None,
    clock: Callable[[], datetime] | None = None,
    sessions: SessionPool | None = None,
) -> DeliveryResult:
    """POST ``body`` to a peer (an inbox) and return how it answered, whatever the status.

    Raise a FetchError subclass only when there is no answer to report: a refused
    address, a timeout (retryable) or a broken connection (retryable). Redirects are not
    followed: an inbox that moves answers 3xx, which is reported as not delivered. With
    ``sessions`` (whose policy must be ``policy``) the connection is kept for the next
    POST to the same origin.
    """
    if sessions is not None and sessions.policy != policy:
        raise ValueError("the session pool was made for another address policy")
    deadline = time.monotonic() + timeouts.total
    headers = {
        "Accept": ", ".join(ACTIVITYPUB_TYPES + JSON_TYPES),
        "Content-Type": content_type,
        "User-Agent": user_agent,
    }
    with _exchange(
        "POST",
        url,
        headers=headers,
        body=body,
        sign=sign,
        policy=policy,
        resolver=resolver,
        timeouts=timeouts,
        deadline=deadline,
        ca_bundle=ca_bundle,
        sessions=sessions,
    ) as response:
        answered = _headers(response)
        if sessions is not None:
            _drain(response, deadline)
        return DeliveryResult(response.status_code, _retry_after(answered, clock), answered)


@contextmanager
def _exchange(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None,
    sign: HttpSignatureAuth | None,
    policy: AddressPolicy,
    resolver: Resolver,
    timeouts: Timeouts,
    deadline: float,
    ca_bundle: str | None,
    sessions: SessionPool | None = None,
) -> Iterator[requests.Response]:
    """Send one request to a vetted, pinned address and yield the unread response."""
    url = _normalise(url)
    scheme, host, port = _target(url)
    if sessions is not None:
        request = requests.Request(
            method, url, headers={**headers, "Host": authority(url)}, data=body, auth=sign
        )
        with sessions.lease(scheme, host, port, url) as (session, addresses):
            prepared = session.prepare_request(request)
            response = send_pinned(
                session, prepared, scheme, host, addresses, timeouts, deadline, ca_bundle
            )
            try:
                yield response
            finally:
                response.close()
        return
    with requests.Session() as session:
        session.trust_env = False  # no proxies, no .netrc: we connect where we vetted
        request = requests.Request(
            method, url, headers={**headers, "Host": authority(url)}, data=body, auth=sign
        )
        prepared = session.prepare_request(request)
        addresses = vet_host(host, port, policy=policy, resolver=resolver, url=url)
        response = send_pinned(
            session, prepared, scheme, host, addresses, timeouts, deadline, ca_bundle
        )
        try:
            yield response
        finally:
            response.close()


def _normalise(url: str) -> str:
    # Vet, pin, sign and compare origins on the URL as requests will send it (IDNA-encoded).
    try:
        return requests.Request("GET", url).prepare().url or url
    except requests.exceptions.RequestException as error:
        raise FetchError(f"{url!r} is not a usable URL: {error}", url=url) from error


def _target(url: str) -> Origin:
    parts = urlsplit(url)
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise FetchError(f"{url!r} is not an http or https URL", url=url)
    if parts.username is not None or parts.password is not None:
        raise FetchError(f"{url!r} carries credentials", url=url)
    found = origin(url)
    if found is None:
        problem = "names no host" if not parts.hostname else "has a bad port"
        raise FetchError(f"{url!r} {problem}", url=url)
    return found


def _redirect_target(original: str, current: str, response: requests.Response) -> str:
    location = response.headers.get("Location")
    if not location:
        raise FetchError(
            f"GET {current} redirected without a Location",
            url=current,
            status=response.status_code,
        )
    parts = urlsplit(urljoin(current, location.strip()))
    target = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    if not same_origin(original, target):
        raise CrossOriginRedirect(
            f"GET {current} redirected to another origin: {target}",
            url=current,
            status=response.status_code,
            location=target,
        )
    return target


def _headers(response: requests.Response) -> Mapping[str, str]:
    return MappingProxyType({name.lower(): value for name, value in response.headers.items()})


def _retry_after(headers: Mapping[str, str], clock: Callable[[], datetime] | None) -> float | None:
    # A Retry-After date is measured against the peer's own Date when it sent one: that
    # is the delay it meant, whatever the difference between its clock and ours.
    now: datetime | None = None
    if "date" in headers:
        try:
            now = parse_http_date(headers["date"])
        except ValueError:
            now = None
    if now is None and clock is not None:
        now = clock()
    return parse_retry_after(headers.get("retry-after"), now=now)


def _read_capped(response: requests.Response, url: str, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(
            f"{url} announces {declared} bytes, more than {max_bytes}",
            url=url,
            status=response.status_code,
        )
    body = bytearray()
    try:
        while True:
            if time.monotonic() > deadline:
                raise FetchTimeout(f"{url} took too long to send its answer", url=url)
            # read1 returns what one socket read brings, so a peer trickling bytes cannot
            # hold us past the deadline; decoding is capped per call, so a compression
            # bomb stops at the size cap too.
            chunk = response.raw.read1(_CHUNK, decode_content=True)
            if not chunk:
                break
            body += chunk
            if len(body) > max_bytes:
                raise ResponseTooLarge(
                    f"{url} sent more than {max_bytes} bytes", url=url, status=response.status_code
                )
    except urllib3.exceptions.ReadTimeoutError as error:
        raise FetchTimeout(f"{url} stopped sending its answer", url=url) from error
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise FetchError(f"{url} broke off its answer: {error}", url=url, retryable=True) from error
    return bytes(body)


def _drain(response: requests.Response, deadline: float) -> None:
    # A connection goes back to its pool only once its answer has been read to the end;
    # an inbox says little, so a long or slow answer just costs the connection.
    try:
        left = _DRAIN_LIMIT
        while left > 0 and time.monotonic() < deadline:
            chunk = response.raw.read1(left)
            if not chunk:
                response.raw.release_conn()
                return
            left -= len(chunk)
    except (urllib3.exceptions.HTTPError, OSError):
        pass
    # Not read to the end: closing the response closes the connection too.


def _parse_object(raw: bytes, url: str, status: int) -> dict[str, Any]:
    try:
        document = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise FetchError(f"{url} did not send JSON: {error}", url=url, status=status) from error
    if not isinstance(document, dict):
        raise FetchError(f"{url} sent JSON that is not an object", url=url, status=status)
    return document


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _media_type(value: str) -> Message:
    message = Message()
    message["Content-Type"] = value
    return message
