"""How the client connects: to a vetted address only, pinned, with keep-alive per batch.

A request goes to an address vetted against the private-address policy, never to the
name a second time, while HTTP and TLS (SNI, the certificate) still speak to the name.
``send_pinned`` tries the vetted addresses in turn when one will not take the connection,
and turns requests' errors into FetchError kinds; ``SessionPool`` keeps sessions alive
for one batch of deliveries, each pinned like a fresh one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from federation.addresses import AddressPolicy, Resolver, system_resolver, vet_host
from federation.errors import FetchError, FetchTimeout


@dataclass(frozen=True)
class Timeouts:
    """How long to wait to connect, between bytes, and for the whole exchange (seconds)."""

    connect: float = 5.0
    read: float = 20.0
    total: float = 60.0


class PinnedAdapter(HTTPAdapter):
    """Connect to one vetted address while speaking HTTP and TLS (SNI, certificate) to the name."""

    def __init__(self, address: str, host: str) -> None:
        super().__init__(max_retries=0)
        self.address = address
        self.host = host

    def build_connection_pool_key_attributes(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        cert: str | tuple[str, str] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Key the connection pool by the vetted address, and check TLS against the name."""
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if (host_params.get("host") or "").lower() != self.host:
            # Only ever sent requests for the name it was vetted for; anything else is a bug.
            raise FetchError(f"adapter pinned for {self.host} got {request.url}")
        host_params["host"] = self.address
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self.host
            pool_kwargs["assert_hostname"] = self.host
        return host_params, pool_kwargs


class SessionPool:
    """Keep-alive sessions for one run of requests (a delivery batch), shared by its threads.

    A session serves one origin and is pinned, like every request here, to an address
    vetted against ``policy`` when the session was made; later connections of that session
    go to that same address, never to the name again, so reuse is as strict about private
    addresses as a fresh session per request. Keep a pool for one batch, not for the life
    of the process, so a peer that moves is looked up again by the next batch. Each session
    is lent to one request at a time; ``close`` ends them all.
    """

    def __init__(
        self,
        *,
        policy: AddressPolicy,
        resolver: Resolver = system_resolver,
        max_idle_per_origin: int = 16,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.max_idle_per_origin = max_idle_per_origin
        self._idle: dict[tuple[str, str, int], list[tuple[requests.Session, tuple[str, ...]]]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> SessionPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def lease(
        self, scheme: str, host: str, port: int, url: str
    ) -> Iterator[tuple[requests.Session, tuple[str, ...]]]:
        """Lend a session for one request to this origin, vetting a new one before use.

        The session goes back to the pool only when the request ended cleanly (the caller
        read the whole answer); after an error it is closed.
        """
        origin = (scheme, host, port)
        with self._lock:
            if self._closed:
                raise RuntimeError("session pool is closed")
            idle = self._idle.get(origin)
            held = idle.pop() if idle else None
        if held is None:
            addresses = vet_host(host, port, policy=self.policy, resolver=self.resolver, url=url)
            session = requests.Session()
            session.trust_env = False  # no proxies, no .netrc: we connect where we vetted
            held = (session, addresses)
        try:
            yield held
        except BaseException:
            held[0].close()
            raise
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if self._closed or len(idle) >= self.max_idle_per_origin:
                held[0].close()
            else:
                idle.append(held)

    def close(self) -> None:
        """Close every idle session; sessions lent out are closed when they come back."""
        with self._lock:
            self._closed = True
            held = [session for idle in self._idle.values() for session, _ in idle]
            self._idle.clear()
        for session in held:
            session.close()


def send_pinned(
    session: requests.Session,
    prepared: requests.PreparedRequest,
    scheme: str,
    host: str,
    addresses: Sequence[str],
    timeouts: Timeouts,
    deadline: float,
    ca_bundle: str | None,
) -> requests.Response:
    """Send ``prepared`` to the first vetted address that takes the connection."""
    url = prepared.url or ""
    for position, address in enumerate(addresses):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchTimeout(f"{prepared.method} {url} ran out of time", url=url)
        mounted = session.adapters.get(f"{scheme}://")
        if not (
            isinstance(mounted, PinnedAdapter)
            and mounted.address == address
            and mounted.host == host
        ):
            session.mount(f"{scheme}://", PinnedAdapter(address, host))
        try:
            return session.send(
                prepared,
                stream=True,
                allow_redirects=False,
                timeout=(min(timeouts.connect, remaining), min(timeouts.read, remaining)),
                verify=ca_bundle or True,
                proxies={},
            )
        except requests.exceptions.ConnectTimeout as error:
            if position + 1 < len(addresses):
                continue  # nothing was sent: the next address may answer
            raise FetchTimeout(f"cannot connect to {url} in time", url=url) from error
        except requests.exceptions.Timeout as error:
            raise FetchTimeout(f"{url} did not answer in time", url=url) from error
        except requests.exceptions.ConnectionError as error:
            if _not_connected(error) and position + 1 < len(addresses):
                continue
            raise FetchError(f"cannot reach {url}: {error}", url=url, retryable=True) from error
        except requests.exceptions.RequestException as error:
            raise FetchError(f"cannot send to {url}: {error}", url=url) from error
    raise FetchError(f"no address to send {url} to", url=url, retryable=True)


def _not_connected(error: requests.exceptions.ConnectionError) -> bool:
    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)
