"""The private-address guard: which resolved addresses outbound requests may connect to.

Names are never trusted: the host is resolved (with an injectable resolver), every
address it resolves to is checked, and the client then connects to a checked address, so
a name that resolves differently a moment later (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from federation.errors import BlockedAddress, FetchError

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver: TypeAlias = Callable[[str, int], Sequence[str]]

SETTING = "BRANCHLINE_ALLOW_PRIVATE_ADDRESSES"

_ALLOW_ALL = frozenset({"1", "true", "yes", "on"})
_ALLOW_NONE = frozenset({"", "0", "false", "no", "off"})

_CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# Cloud instance metadata services (AWS, GCP, Azure, OpenStack; AWS's IPv6 one).
_METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254"))

# Reasons no policy lifts when it allows "all": no peer has these addresses, and the
# metadata service is the classic target of server-side request forgery. Listing the
# metadata network explicitly still allows it.
_NEVER_BY_ALLOW_ALL = frozenset({"unspecified", "multicast", "cloud metadata"})


@dataclass(frozen=True)
class AddressPolicy:
    """Which non-public addresses the operator lets this node's requests reach."""

    allow_all: bool = False
    allowed_networks: tuple[Network, ...] = ()

    @classmethod
    def from_setting(cls, value: str | None) -> AddressPolicy:
        """Read ``BRANCHLINE_ALLOW_PRIVATE_ADDRESSES``: "1"/"true", or comma-separated networks.

        Unset, empty, "0" or "false" allow nothing private; a bad network raises ValueError
        so a typo stops the node at start-up instead of silently refusing peers.
        """
        text = (value or "").strip()
        if text.lower() in _ALLOW_NONE:
            return cls()
        if text.lower() in _ALLOW_ALL:
            return cls(allow_all=True)
        networks: list[Network] = []
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item))
            except ValueError as error:
                raise ValueError(f"{SETTING}: {item!r} is not a network: {error}") from error
        return cls(allowed_networks=tuple(networks))

    def lists(self, address: IPAddress) -> bool:
        """Tell whether ``address`` (or the IPv4 address it embeds) is in an allowed network."""
        candidates = [address]
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            candidates.append(embedded)
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self.allowed_networks
        )


def non_public_reason(address: IPAddress) -> str | None:
    """Say what kind of non-public address ``address`` is, or None when it is public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        inner = non_public_reason(embedded)
        return None if inner is None else f"{inner} (embedded in {address})"
    if address in _NAT64_LOCAL:
        return "local-use NAT64"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address in _METADATA:
        return "cloud metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address in _CARRIER_GRADE_NAT:
        return "carrier-grade NAT"
    if address in _UNIQUE_LOCAL:
        return "unique-local"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "not globally routable"
    return None


def refusal(address: str | IPAddress, policy: AddressPolicy) -> str | None:
    """Say why ``policy`` keeps requests from ``address``, or None when they may go there."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    reason = non_public_reason(ip)
    if reason is None or policy.lists(ip):
        return None
    if policy.allow_all and not any(reason.startswith(never) for never in _NEVER_BY_ALLOW_ALL):
        return None
    return reason


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the system resolver, preferred address first."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG)
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def vet_host(
    host: str, port: int, *, policy: AddressPolicy, resolver: Resolver, url: str | None = None
) -> tuple[str, ...]:
    """Resolve ``host`` and return its addresses; raise BlockedAddress if any is refused.

    One refused address refuses the host: an attacker who controls a name can otherwise
    mix a public address into the answer and hope the private one is tried.
    """
    literal = _ip_literal(host)
    if literal is not None:
        resolved: Sequence[str] = [str(literal)]
    else:
        try:
            resolved = resolver(host, port)
        except OSError as error:
            raise FetchError(f"cannot resolve {host}: {error}", url=url, retryable=True) from error
        if not resolved:
            raise FetchError(f"{host} resolves to no address", url=url, retryable=True)
    addresses: list[str] = []
    for text in resolved:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError as error:
            raise FetchError(f"resolver gave {text!r} for {host}", url=url) from error
        reason = refusal(ip, policy)
        if reason is not None:
            raise BlockedAddress(
                f"{host} resolves to {ip}, a {reason} address",
                url=url,
                host=host,
                address=str(ip),
                reason=reason,
            )
        addresses.append(str(ip))
    return tuple(addresses)


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
