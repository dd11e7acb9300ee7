"""The client's private-address guard against hostile names: what it decides, and where it connects.

Names are answered by fake resolvers, and the transport's connector is replaced by one that
records where it was asked to go and refuses, so no request leaves the machine whatever the
guard decides.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
import urllib3.util.connection

from federation.addresses import AddressPolicy, system_resolver, vet_host
from federation.client import SessionPool, Timeouts, fetch_json, post_json
from federation.errors import BlockedAddress, FetchError

STRICT = AddressPolicy.from_setting(None)
QUICK = Timeouts(connect=2.0, read=2.0, total=5.0)
PUBLIC = "93.184.216.34"
URLS = ("https://peer.example/actor", "http://peer.example:8080/inbox")

HOSTILE_ANSWERS = {
    "private": ["10.0.0.1"],
    "metadata": ["169.254.169.254"],
    "metadata, IPv4-mapped": ["::ffff:169.254.169.254"],
    "loopback v6": ["::1"],
    "loopback v4": ["127.0.0.1"],
    "link-local with a zone": ["fe80::1%eth0"],
    "unspecified": ["0.0.0.0"],  # noqa: S104 - an address the guard must refuse
    "public then private": [PUBLIC, "10.0.0.1"],
    "private then public": ["192.168.1.20", PUBLIC],
    "public v6 then loopback v6": ["2606:4700::1111", "::1"],
}


class FakeResolver:
    """Answer for peer.example from a list of answers, one per look-up (the last repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        assert host == "peer.example", f"unexpected look-up of {host}"
        self.calls.append((host, port))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


@pytest.fixture
def connector(monkeypatch):
    """Record where the transport tries to connect, and refuse: nothing is ever sent."""
    attempts: list[tuple[str, int]] = []
    looked_up: list[str] = []

    def refuse(address, *args, **kwargs):
        host, port = address[0], address[1]
        try:
            ipaddress.ip_address(host)
        except ValueError:  # a name: the transport would resolve it here, and meet the rebind
            host = socket.getaddrinfo(host, port)[0][4][0]
        attempts.append((host, port))
        raise ConnectionRefusedError("test connector: nothing leaves this machine")

    def rebinding_dns(host, *args, **kwargs):
        # What a name's DNS says a moment after the guard asked: the node's own loopback.
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", args[0] or 80))]

    def no_socket(*args, **kwargs):
        pytest.fail(f"a socket connected around the transport: {args!r}")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    monkeypatch.setattr(socket, "create_connection", no_socket)
    monkeypatch.setattr(socket.socket, "connect", no_socket)
    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    refuse.attempts = attempts
    refuse.looked_up = looked_up
    return refuse


def _get(url, resolver, policy=STRICT):
    return fetch_json(url, sign=None, policy=policy, resolver=resolver, timeouts=QUICK)


def _post(url, resolver, policy=STRICT):
    return post_json(url, b"{}", sign=None, policy=policy, resolver=resolver, timeouts=QUICK)


def _post_pooled(url, resolver, policy=STRICT):
    with SessionPool(policy=policy, resolver=resolver) as pool:
        return post_json(
            url, b"{}", sign=None, policy=policy, resolver=resolver, timeouts=QUICK, sessions=pool
        )


SENDS = {"fetch": _get, "deliver": _post, "deliver in a batch": _post_pooled}


@pytest.mark.parametrize("send", SENDS.values(), ids=SENDS.keys())
@pytest.mark.parametrize("answer", HOSTILE_ANSWERS.values(), ids=HOSTILE_ANSWERS.keys())
@pytest.mark.parametrize("url", URLS)
def test_a_name_resolving_to_any_non_public_address_is_refused_before_connecting(
    connector, send, answer, url
):
    resolver = FakeResolver(answer)
    with pytest.raises(BlockedAddress):
        send(url, resolver)
    assert len(resolver.calls) == 1
    assert connector.attempts == [] and connector.looked_up == []


@pytest.mark.parametrize("send", SENDS.values(), ids=SENDS.keys())
@pytest.mark.parametrize("url", URLS)
def test_a_name_that_rebinds_after_the_check_is_connected_to_at_the_checked_address(
    connector, send, url
):
    # The name passes the check with a public address, then answers with loopback: the
    # connection must go to the address that was checked, and the name is never looked up
    # again (the connector's DNS would say 127.0.0.1).
    resolver = FakeResolver([PUBLIC], ["127.0.0.1"])
    with pytest.raises(FetchError) as caught:
        send(url, resolver)
    assert not isinstance(caught.value, BlockedAddress)
    port = 443 if url.startswith("https") else 8080
    assert connector.attempts == [(PUBLIC, port)]
    assert resolver.calls == [("peer.example", port)]
    assert connector.looked_up == []


def test_each_public_address_is_tried_and_nothing_else(connector):
    resolver = FakeResolver([PUBLIC, "2606:4700::1111"])
    with pytest.raises(FetchError):
        _get("https://peer.example/actor", resolver)
    assert connector.attempts == [(PUBLIC, 443), ("2606:4700::1111", 443)]


@pytest.mark.parametrize(
    ("setting", "allowed", "refused"),
    [
        ("1", ["10.0.0.1", "192.168.1.20", "127.0.0.1", "::1", "fd00::1"], ["169.254.169.254"]),
        ("127.0.0.0/8", ["127.0.0.1", "127.8.9.10"], ["::1", "10.0.0.1", "169.254.169.254"]),
        ("::1/128, 10.0.0.0/8", ["::1", "10.2.3.4"], ["127.0.0.1", "192.168.1.20", "fe80::1"]),
        (None, [], ["127.0.0.1", "::1", "10.0.0.1"]),
        ("0", [], ["127.0.0.1", "::1", "10.0.0.1"]),
    ],
)
def test_the_setting_opens_exactly_the_networks_it_names(connector, setting, allowed, refused):
    policy = AddressPolicy.from_setting(setting)
    for address in allowed:
        with pytest.raises(FetchError) as caught:
            _get("http://peer.example/actor", FakeResolver([address]), policy)
        assert not isinstance(caught.value, BlockedAddress), address
    assert [attempt[0] for attempt in connector.attempts] == allowed
    for address in refused:
        with pytest.raises(BlockedAddress):
            _get("http://peer.example/actor", FakeResolver([address]), policy)
    assert len(connector.attempts) == len(allowed)


@pytest.mark.parametrize(
    ("answer", "blocked"),
    [
        ([PUBLIC], False),
        (["10.0.0.1"], True),
        ([PUBLIC, "169.254.169.254"], True),
        (["::1"], True),
    ],
)
def test_the_system_resolver_feeds_every_address_to_the_guard(monkeypatch, answer, blocked):
    asked = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        asked.append((host, port))
        infos = []
        for address in answer + answer:  # each address twice, as A and AAAA answers repeat
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            infos.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return infos

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    assert system_resolver("peer.example", 443) == answer
    if blocked:
        with pytest.raises(BlockedAddress):
            vet_host("peer.example", 443, policy=STRICT, resolver=system_resolver)
    else:
        assert vet_host("peer.example", 443, policy=STRICT, resolver=system_resolver) == (PUBLIC,)
    assert asked[-1] == ("peer.example", 443)
