"""The private-address guard, decided on addresses and fake resolvers: nothing is sent."""

from __future__ import annotations

import ipaddress

import pytest

from federation.addresses import AddressPolicy, non_public_reason, refusal, vet_host
from federation.errors import BlockedAddress, FetchError

# An address the guard must refuse; nothing here binds to it.
UNSPECIFIED = "0.0.0.0"  # noqa: S104

STRICT = AddressPolicy()
LOOPBACK_ONLY = AddressPolicy.from_setting("127.0.0.0/8,::1/128")
ALLOW_ALL = AddressPolicy.from_setting("1")

REFUSED = [
    (UNSPECIFIED, "unspecified"),
    ("0.1.2.3", "private"),  # "this network"; Linux routes 0.0.0.0 to the local host
    ("::", "unspecified"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.0.1", "link-local"),
    ("169.254.169.254", "cloud metadata"),
    ("fd00:ec2::254", "cloud metadata"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("fc00::1", "unique-local"),
    ("fd12:3456:789a::1", "unique-local"),
    ("fec0::1", "site-local"),
    ("192.0.2.1", "private"),  # documentation ranges are not anybody's server
    ("198.18.0.1", "private"),
    ("2001:db8::1", "private"),
    ("::ffff:127.0.0.1", "loopback (embedded in ::ffff:7f00:1)"),
    ("::ffff:10.0.0.1", "private (embedded in ::ffff:a00:1)"),
    ("::ffff:169.254.169.254", "cloud metadata (embedded in ::ffff:a9fe:a9fe)"),
    ("64:ff9b::a00:1", "private (embedded in 64:ff9b::a00:1)"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("2002:a00:1::", "private (embedded in 2002:a00:1::)"),
    ("::127.0.0.1", "reserved"),  # deprecated IPv4-compatible form
]

PUBLIC = [
    "93.184.216.34",
    "1.1.1.1",
    "8.8.8.8",
    "100.63.255.255",  # just below the carrier-grade NAT block
    "100.128.0.0",  # just above it
    "172.15.255.255",
    "172.32.0.0",
    "2606:4700:4700::1111",
    "2a00:1450:4009:81f::200e",
    "::ffff:93.184.216.34",
    "64:ff9b::5db8:d822",  # NAT64 of a public address
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_non_public_addresses_are_refused_by_default(address, reason):
    assert non_public_reason(ipaddress.ip_address(address)) == reason
    assert refusal(address, STRICT) == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed_under_every_policy(address):
    assert non_public_reason(ipaddress.ip_address(address)) is None
    for policy in (STRICT, LOOPBACK_ONLY, ALLOW_ALL):
        assert refusal(address, policy) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_listed_networks_are_allowed(address):
    assert refusal(address, LOOPBACK_ONLY) is None


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "fd00::1",
        "fe80::1",
        "::2",
        "::ffff:10.0.0.1",
    ],
)
def test_networks_not_listed_stay_refused(address):
    assert refusal(address, LOOPBACK_ONLY) is not None


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.0.0.1", "192.168.1.1", "fd00::1", "100.64.0.1", "fe80::1"]
)
def test_allow_all_allows_private_addresses(address):
    assert refusal(address, ALLOW_ALL) is None


@pytest.mark.parametrize(
    "address",
    [UNSPECIFIED, "::", "224.0.0.1", "ff02::1", "169.254.169.254", "::ffff:169.254.169.254"],
)
def test_allow_all_still_refuses_what_no_peer_has(address):
    assert refusal(address, ALLOW_ALL) is not None


def test_metadata_address_is_allowed_only_when_listed():
    assert refusal("169.254.169.254", AddressPolicy.from_setting("169.254.169.254/32")) is None


@pytest.mark.parametrize("value", [None, "", "  ", "0", "false", "FALSE", "no", "off"])
def test_setting_off_allows_nothing_private(value):
    assert AddressPolicy.from_setting(value) == STRICT


@pytest.mark.parametrize("value", ["1", "true", "True", " yes ", "on"])
def test_setting_on_allows_all(value):
    assert AddressPolicy.from_setting(value).allow_all


def test_setting_lists_networks():
    policy = AddressPolicy.from_setting(" 127.0.0.0/8 , ::1/128,10.1.2.3,")
    assert policy.allowed_networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.1.2.3/32"),
    )
    assert not policy.allow_all


@pytest.mark.parametrize("value", ["127.0.0.0/33", "10.0.0.1/8", "localhost", "yes please"])
def test_bad_setting_is_an_error_not_a_silent_refusal(value):
    with pytest.raises(ValueError, match="BRANCHLINE_ALLOW_PRIVATE_ADDRESSES"):
        AddressPolicy.from_setting(value)


# --- resolving ---------------------------------------------------------------------------


class SpyResolver:
    def __init__(self, answers):
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host, port):
        self.calls.append((host, port))
        return self.answers[host]


def test_public_looking_name_resolving_to_a_private_address_is_blocked():
    resolver = SpyResolver({"peer.example": ["10.0.0.1"]})
    with pytest.raises(BlockedAddress) as caught:
        vet_host("peer.example", 443, policy=LOOPBACK_ONLY, resolver=resolver)
    assert resolver.calls == [("peer.example", 443)]
    assert (caught.value.host, caught.value.address) == ("peer.example", "10.0.0.1")
    assert caught.value.reason == "private"
    assert caught.value.retryable is False


def test_one_private_address_among_public_ones_blocks_the_host():
    resolver = SpyResolver({"peer.example": ["93.184.216.34", "2606:4700::1", "127.0.0.1"]})
    with pytest.raises(BlockedAddress, match="loopback"):
        vet_host("peer.example", 443, policy=STRICT, resolver=resolver)


def test_host_resolving_to_public_addresses_passes_them_on_in_order():
    resolver = SpyResolver({"peer.example": ["2606:4700::1", "93.184.216.34"]})
    addresses = vet_host("peer.example", 443, policy=STRICT, resolver=resolver)
    assert addresses == ("2606:4700::1", "93.184.216.34")


@pytest.mark.parametrize("host", ["10.0.0.1", "169.254.169.254", "[::1]", "::ffff:7f00:1"])
def test_ip_literal_hosts_are_checked_without_resolving(host):
    resolver = SpyResolver({})
    with pytest.raises(BlockedAddress):
        vet_host(host, 80, policy=STRICT, resolver=resolver)
    assert resolver.calls == []


def test_resolver_failure_is_a_retryable_fetch_error():
    def failing(host, port):
        raise OSError("Name or service not known")

    with pytest.raises(FetchError) as caught:
        vet_host("gone.example", 443, policy=STRICT, resolver=failing)
    assert caught.value.retryable and not isinstance(caught.value, BlockedAddress)


def test_name_resolving_to_nothing_is_a_fetch_error():
    with pytest.raises(FetchError, match="no address"):
        vet_host("empty.example", 443, policy=STRICT, resolver=SpyResolver({"empty.example": []}))


def test_resolver_answer_that_is_not_an_address_is_a_fetch_error():
    resolver = SpyResolver({"odd.example": ["not-an-ip"]})
    with pytest.raises(FetchError, match="resolver gave"):
        vet_host("odd.example", 443, policy=STRICT, resolver=resolver)
