"""The outbound HTTP client against real servers on 127.0.0.1, and its guard before any socket."""

from __future__ import annotations

import gzip
import json
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
import urllib3.util.connection

from federation.addresses import AddressPolicy
from federation.client import (
    ACTIVITYPUB_TYPES,
    JSON_TYPES,
    WEBFINGER_TYPES,
    HttpSignatureAuth,
    Timeouts,
    content_type_accepted,
    fetch_json,
    parse_retry_after,
    post_json,
)
from federation.errors import (
    BlockedAddress,
    CrossOriginRedirect,
    FetchError,
    FetchTimeout,
    ResponseTooLarge,
    TooManyRedirects,
    UnacceptableContentType,
)
from federation.http_fields import http_date
from federation.httpsig import verify_request
from tests.federation.conftest import private_key
from tests.federation.local_http import Reply

NOW = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
KEY_ID = "https://leeds.branch.example/groups/leeds#main-key"
LOOPBACK = AddressPolicy.from_setting("127.0.0.0/8,::1/128")
AS_JSON = {"Content-Type": "application/activity+json"}
ACTOR = {"id": "https://peer.example/groups/york", "type": "Group", "name": "York Café"}
ACTOR_BYTES = json.dumps(ACTOR, ensure_ascii=False).encode("utf-8")
QUICK = Timeouts(connect=2.0, read=2.0, total=5.0)


@pytest.fixture(scope="module")
def rsa_key():
    return private_key("rfc9421-test-key-rsa")


@pytest.fixture
def signer(rsa_key):
    return HttpSignatureAuth(KEY_ID, rsa_key, lambda: NOW)


@pytest.fixture
def server(serve):
    return serve()


def get(url, **kwargs):
    kwargs.setdefault("sign", None)
    kwargs.setdefault("policy", LOOPBACK)
    kwargs.setdefault("timeouts", QUICK)
    return fetch_json(url, **kwargs)


def post(url, body=b'{"type":"Follow"}', **kwargs):
    kwargs.setdefault("sign", None)
    kwargs.setdefault("policy", LOOPBACK)
    kwargs.setdefault("timeouts", QUICK)
    return post_json(url, body, **kwargs)


def resolve_to(address, names=("peer.test",)):
    calls = []

    def resolver(host, port):
        calls.append((host, port))
        assert host in names, f"unexpected lookup of {host}"
        return [address]

    resolver.calls = calls
    return resolver


# --- the guard acts before any socket ----------------------------------------------------


@pytest.fixture
def no_sockets(monkeypatch):
    """Fail the test if anything tries to open a connection or resolve a name."""

    def refuse(*args, **kwargs):
        pytest.fail(f"a connection was attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_name_resolving_to_a_private_address_is_blocked_before_any_socket(no_sockets, signer):
    resolver = resolve_to("10.0.0.1", names=("groups.example.org",))
    with pytest.raises(BlockedAddress) as caught:
        fetch_json(
            "https://groups.example.org/actor", sign=signer, policy=LOOPBACK, resolver=resolver
        )
    assert resolver.calls == [("groups.example.org", 443)]
    assert caught.value.address == "10.0.0.1"
    assert not caught.value.retryable


def test_delivery_to_a_private_address_is_blocked_before_any_socket(no_sockets, signer):
    resolver = resolve_to("192.168.0.10", names=("inbox.example.org",))
    with pytest.raises(BlockedAddress):
        post_json(
            "http://inbox.example.org:8080/inbox",
            b"{}",
            sign=signer,
            policy=LOOPBACK,
            resolver=resolver,
        )
    assert resolver.calls == [("inbox.example.org", 8080)]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/actor",
        "http://[::ffff:10.0.0.1]/actor",
        "http://[fd00::1]:8080/actor",
        "http://0.0.0.0:8000/",
    ],
)
def test_private_ip_literals_are_blocked_without_resolving(no_sockets, url):
    resolver = resolve_to("93.184.216.34")
    with pytest.raises(BlockedAddress):
        get(url, resolver=resolver)
    assert resolver.calls == []


def test_loopback_is_blocked_when_the_policy_allows_nothing(no_sockets):
    with pytest.raises(BlockedAddress, match="loopback"):
        get("http://127.0.0.1:9/actor", policy=AddressPolicy())


@pytest.mark.parametrize(
    "url", ["ftp://peer.test/actor", "file:///etc/passwd", "http://user:pw@peer.test/", "http:///x"]
)
def test_urls_that_are_not_plain_http_are_refused(no_sockets, url):
    with pytest.raises(FetchError):
        get(url, resolver=resolve_to("127.0.0.1"))


# --- fetching ----------------------------------------------------------------------------


def test_fetch_returns_the_document_and_its_bytes(server):
    server.routes["/actor"] = Reply(200, AS_JSON, ACTOR_BYTES)
    result = get(server.url("/actor"))
    assert result.document == ACTOR
    assert result.raw == ACTOR_BYTES
    assert result.status == 200
    assert result.url == server.url("/actor")
    assert result.headers["content-type"] == "application/activity+json"
    accept = server.received[0].header("Accept")
    assert (
        accept
        == 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    )


def test_fetch_connects_to_the_vetted_address_and_names_the_host(server, monkeypatch):
    resolved_names = []
    real_getaddrinfo = socket.getaddrinfo

    def only_addresses(host, *args, **kwargs):
        resolved_names.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", only_addresses)
    server.routes["/actor"] = Reply(200, AS_JSON, ACTOR_BYTES)
    resolver = resolve_to("127.0.0.1")
    result = get(server.url("/actor", host="peer.test"), resolver=resolver)
    assert result.document == ACTOR
    assert resolver.calls == [("peer.test", server.port)]
    assert server.received[0].header("Host") == f"peer.test:{server.port}"
    # The transport only ever looked up the vetted address, never the name again.
    assert "peer.test" not in resolved_names


def test_rebinding_resolver_cannot_redirect_the_connection(server):
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    calls = []

    def rebinding(host, port):
        calls.append(host)
        return next(answers)

    server.routes["/actor"] = Reply(200, AS_JSON, ACTOR_BYTES)
    assert get(server.url("/actor", host="peer.test"), resolver=rebinding).document == ACTOR
    assert calls == ["peer.test"]


def test_next_address_is_tried_when_the_first_refuses_connections(server):
    server.routes["/actor"] = Reply(200, AS_JSON, ACTOR_BYTES)

    def two_addresses(host, port):
        return ["127.0.0.2", "127.0.0.1"]  # the server listens on 127.0.0.1 only

    result = get(server.url("/actor", host="peer.test"), resolver=two_addresses)
    assert result.document == ACTOR


@pytest.mark.parametrize(
    "content_type",
    [
        "application/activity+json",
        "application/activity+json; charset=utf-8",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        'Application/LD+JSON; charset=utf-8; profile="https://www.w3.org/ns/activitystreams"',
        'application/ld+json; profile="https://example.org/p https://www.w3.org/ns/activitystreams"',
    ],
)
def test_activitypub_content_types_are_accepted(server, content_type):
    server.routes["/actor"] = Reply(200, {"Content-Type": content_type}, ACTOR_BYTES)
    assert get(server.url("/actor")).document == ACTOR


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html; charset=utf-8",
        "application/json",
        "application/ld+json",
        'application/ld+json; profile="https://example.org/other"',
        "application/activity+jsonx",
        "",
    ],
)
def test_other_content_types_are_refused_for_activitypub_fetches(server, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    server.routes["/actor"] = Reply(200, headers, ACTOR_BYTES)
    with pytest.raises(UnacceptableContentType) as caught:
        get(server.url("/actor"))
    assert caught.value.content_type == content_type
    assert not caught.value.retryable


def test_plain_json_is_accepted_when_the_caller_asks_for_it(server):
    server.routes["/.well-known/webfinger"] = Reply(
        200, {"Content-Type": "application/jrd+json"}, b'{"subject":"acct:york@peer.test"}'
    )
    server.routes["/nodeinfo/2.1"] = Reply(
        200,
        {
            "Content-Type": 'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"'
        },
        b'{"version":"2.1"}',
    )
    finger = get(
        server.url("/.well-known/webfinger?resource=acct:york@peer.test"), accept=WEBFINGER_TYPES
    )
    assert finger.document == {"subject": "acct:york@peer.test"}
    assert server.received[0].header("Accept") == "application/jrd+json, application/json"
    assert get(server.url("/nodeinfo/2.1"), accept=JSON_TYPES).document == {"version": "2.1"}


@pytest.mark.parametrize("body", [b"<html></html>", b"[1, 2]", b'{"a": NaN}', b"\xff\xfe{"])
def test_body_that_is_not_a_json_object_is_refused(server, body):
    server.routes["/actor"] = Reply(200, AS_JSON, body)
    with pytest.raises(FetchError) as caught:
        get(server.url("/actor"))
    assert not caught.value.retryable


# --- size cap ----------------------------------------------------------------------------


def big_document(size):
    padding = size - len(b'{"pad":""}')
    return b'{"pad":"' + b"x" * padding + b'"}'


def test_document_of_exactly_one_mebibyte_is_read(server):
    server.routes["/big"] = Reply(200, AS_JSON, big_document(1024 * 1024))
    assert len(get(server.url("/big")).raw) == 1024 * 1024


def test_announced_length_over_the_cap_is_refused_before_reading(server):
    server.routes["/big"] = Reply(200, AS_JSON, big_document(1024 * 1024 + 1))
    with pytest.raises(ResponseTooLarge, match="announces"):
        get(server.url("/big"))


def test_unannounced_body_over_the_cap_is_cut_off(server):
    server.routes["/big"] = Reply(200, AS_JSON, big_document(1024 * 1024 + 1), content_length=False)
    with pytest.raises(ResponseTooLarge, match="more than 1048576"):
        get(server.url("/big"))


def test_cap_is_configurable(server):
    server.routes["/big"] = Reply(200, AS_JSON, big_document(2000), content_length=False)
    with pytest.raises(ResponseTooLarge):
        get(server.url("/big"), max_bytes=1000)
    assert len(get(server.url("/big"), max_bytes=2000).raw) == 2000


def test_compressed_body_is_capped_after_decompression(server):
    bomb = gzip.compress(big_document(8 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    server.routes["/bomb"] = Reply(200, {**AS_JSON, "Content-Encoding": "gzip"}, bomb)
    with pytest.raises(ResponseTooLarge):
        get(server.url("/bomb"))


# --- timeouts ----------------------------------------------------------------------------


def test_peer_that_does_not_answer_in_time_is_a_retryable_timeout(server):
    server.routes["/slow"] = Reply(200, AS_JSON, ACTOR_BYTES, delay=5)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        get(server.url("/slow"), timeouts=Timeouts(connect=1, read=0.2, total=5))
    assert time.monotonic() - started < 2
    assert caught.value.retryable


def test_peer_trickling_its_answer_is_stopped_at_the_deadline(server):
    server.routes["/trickle"] = Reply(200, AS_JSON, big_document(200), trickle=0.02)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        get(server.url("/trickle"), timeouts=Timeouts(connect=1, read=1, total=0.5))
    assert time.monotonic() - started < 2
    assert caught.value.retryable


def test_delivery_that_times_out_is_retryable(server):
    server.routes["/inbox"] = Reply(202, delay=5)
    with pytest.raises(FetchTimeout) as caught:
        post(server.url("/inbox"), timeouts=Timeouts(connect=1, read=0.2, total=5))
    assert caught.value.retryable


def test_closed_port_is_a_retryable_fetch_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        get(f"http://127.0.0.1:{port}/actor")
    assert caught.value.retryable and caught.value.status is None


# --- redirects ---------------------------------------------------------------------------


def test_same_origin_redirect_is_followed(server):
    server.routes["/users/york"] = Reply(301, {"Location": "/groups/york"})
    server.routes["/groups/york"] = Reply(302, {"Location": server.url("/actor#main")})
    server.routes["/actor"] = Reply(200, AS_JSON, ACTOR_BYTES)
    result = get(server.url("/users/york"))
    assert result.document == ACTOR
    assert result.url == server.url("/actor")
    assert [r.path for r in server.received] == ["/users/york", "/groups/york", "/actor"]


def test_redirect_to_another_port_is_refused_without_contacting_it(serve):
    first, second = serve(), serve()
    first.routes["/actor"] = Reply(302, {"Location": second.url("/actor")})
    second.routes["/actor"] = Reply(200, AS_JSON, ACTOR_BYTES)
    with pytest.raises(CrossOriginRedirect) as caught:
        get(first.url("/actor"))
    assert caught.value.location == second.url("/actor")
    assert second.received == []


@pytest.mark.parametrize(
    "location",
    ["http://localhost:{port}/actor", "https://127.0.0.1:{port}/actor", "//evil.test/actor"],
)
def test_redirect_to_another_host_or_scheme_is_refused(server, location):
    server.routes["/actor"] = Reply(302, {"Location": location.format(port=server.port)})
    with pytest.raises(CrossOriginRedirect):
        get(server.url("/actor"))
    assert len(server.received) == 1


def test_redirect_to_an_url_carrying_credentials_is_refused_without_following_it(server):
    location = server.url("/actor").replace("://", "://user:pw@", 1)
    server.routes["/moved"] = Reply(302, {"Location": location})
    with pytest.raises(FetchError, match="carries credentials"):
        get(server.url("/moved"))
    assert len(server.received) == 1


def test_more_than_three_redirects_are_refused(server):
    for hop in range(4):
        server.routes[f"/r{hop}"] = Reply(307, {"Location": f"/r{hop + 1}"})
    server.routes["/r4"] = Reply(200, AS_JSON, ACTOR_BYTES)
    with pytest.raises(TooManyRedirects):
        get(server.url("/r0"))
    assert len(server.received) == 4
    assert get(server.url("/r1")).document == ACTOR


def test_redirect_without_location_is_an_error(server):
    server.routes["/actor"] = Reply(302)
    with pytest.raises(FetchError, match="without a Location"):
        get(server.url("/actor"))


# --- statuses and Retry-After ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"), [(404, False), (410, False), (401, False), (500, True), (503, True)]
)
def test_fetch_error_status_says_whether_to_retry(server, status, retryable):
    server.routes["/actor"] = Reply(status, AS_JSON, b"{}")
    with pytest.raises(FetchError) as caught:
        get(server.url("/actor"))
    assert (caught.value.status, caught.value.retryable) == (status, retryable)


def test_fetch_answered_429_carries_retry_after(server):
    server.routes["/actor"] = Reply(429, {"Retry-After": "30"})
    with pytest.raises(FetchError) as caught:
        get(server.url("/actor"))
    assert (caught.value.status, caught.value.retryable, caught.value.retry_after) == (
        429,
        True,
        30.0,
    )


def test_accepted_delivery(server):
    server.routes["/inbox"] = Reply(202)
    result = post(server.url("/inbox"))
    assert (result.status, result.delivered, result.retryable, result.retry_after) == (
        202,
        True,
        False,
        None,
    )
    received = server.received[0]
    assert (received.method, received.body) == ("POST", b'{"type":"Follow"}')
    assert received.header("Content-Type") == "application/activity+json"


def test_delivery_answered_429_with_seconds(server):
    server.routes["/inbox"] = Reply(429, {"Retry-After": "120"})
    result = post(server.url("/inbox"))
    assert (result.delivered, result.retryable, result.retry_after) == (False, True, 120.0)
    assert result.headers["retry-after"] == "120"


def test_delivery_answered_503_with_a_date_uses_the_peers_clock(server):
    server.routes["/inbox"] = Reply(
        503,
        {"Date": http_date(NOW), "Retry-After": http_date(NOW + timedelta(seconds=90))},
    )
    result = post(server.url("/inbox"), clock=lambda: NOW + timedelta(hours=5))
    assert (result.retryable, result.retry_after) == (True, 90.0)


def test_delivery_retry_date_without_the_peers_date_uses_our_clock(server):
    server.routes["/inbox"] = Reply(503, {"Retry-After": http_date(NOW + timedelta(minutes=2))})
    assert post(server.url("/inbox"), clock=lambda: NOW).retry_after == 120.0
    assert post(server.url("/inbox")).retry_after is None


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (403, False), (410, False), (500, True), (502, True), (408, True)],
)
def test_refused_delivery_says_whether_to_retry(server, status, retryable):
    server.routes["/inbox"] = Reply(status)
    result = post(server.url("/inbox"))
    assert (result.status, result.delivered, result.retryable) == (status, False, retryable)


def test_delivery_redirect_is_not_followed(server):
    server.routes["/inbox"] = Reply(308, {"Location": "/new-inbox"})
    result = post(server.url("/inbox"))
    assert (result.status, result.delivered, result.retryable) == (308, False, False)
    assert [r.path for r in server.received] == ["/inbox"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Thu, 01 May 2025 12:01:30 GMT", 90.0),
        ("Thursday, 01-May-25 12:01:30 GMT", 90.0),
        ("Thu, 01 May 2025 11:00:00 GMT", 0.0),  # already passed
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_parsing(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


def test_retry_after_date_needs_a_clock():
    assert parse_retry_after("Thu, 01 May 2025 12:01:30 GMT", now=None) is None


# --- signing -----------------------------------------------------------------------------


def lookup(rsa_key):
    return {KEY_ID: rsa_key.public_key()}.get


def test_fetch_arrives_signed_and_verifies(server, signer, rsa_key):
    server.routes["/actor"] = Reply(200, AS_JSON, ACTOR_BYTES)
    get(server.url("/actor?page=1"), sign=signer)
    received = server.received[0]
    verified = verify_request(
        "GET", received.path, received.headers, received.body, lookup_key=lookup(rsa_key), now=NOW
    )
    assert verified.key_id == KEY_ID
    assert verified.covered_headers == ("(request-target)", "host", "date")
    assert received.header("Date") == "Thu, 01 May 2025 12:00:00 GMT"


def test_every_redirect_hop_is_signed_for_its_own_path(server, signer, rsa_key):
    server.routes["/users/york"] = Reply(302, {"Location": "/actor"})
    server.routes["/actor"] = Reply(200, AS_JSON, ACTOR_BYTES)
    get(server.url("/users/york"), sign=signer)
    for received in server.received:
        assert verify_request(
            "GET", received.path, received.headers, b"", lookup_key=lookup(rsa_key), now=NOW
        )


def test_delivery_arrives_signed_with_its_digest_and_verifies(server, signer, rsa_key):
    server.routes["/inbox"] = Reply(202)
    body = json.dumps({"type": "Create", "actor": KEY_ID.partition("#")[0]}).encode()
    post(
        server.url("/inbox", host="peer.test"), body, sign=signer, resolver=resolve_to("127.0.0.1")
    )
    received = server.received[0]
    verified = verify_request(
        "POST", received.path, received.headers, received.body, lookup_key=lookup(rsa_key), now=NOW
    )
    assert verified.covered_headers == (
        "(request-target)",
        "host",
        "date",
        "digest",
        "content-type",
    )
    assert received.header("Host") == f"peer.test:{server.port}"
    assert received.body == body


def test_unsigned_fetch_carries_no_signature(server):
    server.routes["/actor"] = Reply(200, AS_JSON, ACTOR_BYTES)
    get(server.url("/actor"), sign=None)
    assert server.received[0].header("Signature") is None
    assert server.received[0].header("Host") == f"127.0.0.1:{server.port}"


def test_tampered_delivery_does_not_verify(server, signer, rsa_key):
    server.routes["/inbox"] = Reply(202)
    post(server.url("/inbox"), b'{"type":"Follow"}', sign=signer)
    received = server.received[0]
    with pytest.raises(Exception, match="Digest"):
        verify_request(
            "POST",
            received.path,
            received.headers,
            b'{"type":"Block"}',
            lookup_key=lookup(rsa_key),
            now=NOW,
        )


# --- content types, decided without a server ---------------------------------------------


def test_content_type_decisions():
    assert content_type_accepted("application/activity+json", ACTIVITYPUB_TYPES)
    assert not content_type_accepted(None, ACTIVITYPUB_TYPES)
    assert not content_type_accepted("application/jrd+json", ACTIVITYPUB_TYPES)
    assert content_type_accepted("application/jrd+json; charset=utf-8", WEBFINGER_TYPES)


def test_international_host_names_are_resolved_pinned_and_sent_in_ascii(server):
    server.routes["/actor"] = Reply(
        302, {"Location": server.url("/groups/york", "xn--caf-dma.test")}
    )
    server.routes["/groups/york"] = Reply(200, AS_JSON, ACTOR_BYTES)
    resolver = resolve_to("127.0.0.1", names=("xn--caf-dma.test",))
    result = get(server.url("/actor", host="café.test"), resolver=resolver)
    assert result.url == server.url("/groups/york", "xn--caf-dma.test")
    assert server.received[0].header("Host") == f"xn--caf-dma.test:{server.port}"
