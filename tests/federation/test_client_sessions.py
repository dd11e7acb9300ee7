"""Kept-alive sessions for a batch of deliveries: reused, and as strict as a fresh request."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3.util.connection

from federation.addresses import AddressPolicy
from federation.client import Timeouts, post_json
from federation.connections import SessionPool
from federation.errors import BlockedAddress

LOOPBACK = AddressPolicy.from_setting("127.0.0.0/8")
QUICK = Timeouts(connect=2.0, read=2.0, total=5.0)
BODY = b'{"type":"Create"}'


class KeepAliveInbox:
    """An inbox on 127.0.0.1 that keeps connections open and records which one each POST used."""

    def __init__(self, answer: bytes = b"") -> None:
        self.connections: list[int] = []  # the client's port, per request
        self.answer = answer
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.connections.append(self.client_address[1])
                self.send_response_only(202)
                self.send_header("Content-Length", str(len(owner.answer)))
                self.end_headers()
                self.wfile.write(owner.answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/inbox"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def inbox():
    running = KeepAliveInbox()
    yield running
    running.stop()


@pytest.fixture
def no_sockets(monkeypatch):
    """Fail the test if anything tries to open a connection or resolve a name."""

    def refuse(*args, **kwargs):
        pytest.fail(f"a connection was attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def post(url, pool, **kwargs):
    kwargs.setdefault("policy", pool.policy)
    return post_json(url, BODY, sign=None, timeouts=QUICK, sessions=pool, **kwargs)


def test_deliveries_to_one_origin_share_one_connection(inbox):
    with SessionPool(policy=LOOPBACK) as pool:
        results = [post(inbox.url(), pool) for _ in range(3)]
    assert [result.status for result in results] == [202, 202, 202]
    assert len(inbox.connections) == 3
    assert len(set(inbox.connections)) == 1


def test_answer_too_long_to_read_costs_the_connection_not_the_delivery():
    inbox = KeepAliveInbox(answer=b"x" * (256 * 1024))
    try:
        with SessionPool(policy=LOOPBACK) as pool:
            results = [post(inbox.url(), pool) for _ in range(2)]
    finally:
        inbox.stop()
    assert [result.status for result in results] == [202, 202]
    assert len(set(inbox.connections)) == 2


def test_pool_refuses_a_name_resolving_to_a_private_address_before_any_socket(no_sockets):
    def private(host, port):
        return ["10.0.0.1"]

    with SessionPool(policy=AddressPolicy(), resolver=private) as pool:
        with pytest.raises(BlockedAddress):
            post("https://peer.test/inbox", pool)
        with pytest.raises(BlockedAddress):  # a refusal is not remembered as a session
            post("https://peer.test/inbox", pool)


@pytest.mark.parametrize("url", ["http://127.0.0.1/inbox", "http://169.254.169.254/inbox"])
def test_pool_refuses_private_literals_before_any_socket(no_sockets, url):
    with SessionPool(policy=AddressPolicy()) as pool, pytest.raises(BlockedAddress):
        post(url, pool)


def test_kept_session_stays_on_the_address_vetted_when_it_was_made(inbox):
    # A name that rebinds to a private address after the first look-up cannot move a kept
    # session: it connects only to the address it was vetted with. A new pool vets again.
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    calls = []

    def rebinding(host, port):
        calls.append(host)
        return next(answers)

    with SessionPool(policy=LOOPBACK, resolver=rebinding) as pool:
        first = post(inbox.url(host="peer.test"), pool)
        second = post(inbox.url(host="peer.test"), pool)
    assert (first.status, second.status) == (202, 202)
    assert calls == ["peer.test"]

    with SessionPool(policy=LOOPBACK, resolver=rebinding) as pool, pytest.raises(BlockedAddress):
        post(inbox.url(host="peer.test"), pool)
    assert calls == ["peer.test", "peer.test"]


def test_pool_made_for_another_policy_is_refused(no_sockets):
    with SessionPool(policy=LOOPBACK) as pool, pytest.raises(ValueError, match="policy"):
        post("http://127.0.0.1/inbox", pool, policy=AddressPolicy())


def test_closed_pool_lends_nothing(no_sockets):
    pool = SessionPool(policy=LOOPBACK)
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        post("http://127.0.0.1/inbox", pool)


def test_pool_serves_concurrent_senders(inbox):
    with SessionPool(policy=LOOPBACK) as pool:
        threads = [
            threading.Thread(target=lambda: [post(inbox.url(), pool) for _ in range(5)])
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert len(inbox.connections) == 20
    assert len(set(inbox.connections)) <= 4  # at most one connection per sender
