"""URLs as federation compares and builds them: origins, authorities and feed pages.

An origin (RFC 6454) is what "on the same server" means everywhere: an activity's id
against its actor, a redirect against the URL asked for, a feed's next page against the
feed. Only http and https URLs with a host have one. Scheme and host are compared
lower-cased, a missing port is the scheme's default, and userinfo is no part of it (a URL
carrying credentials is refused by the client, not here). Hosts are compared as written:
there is no IDNA conversion, so ``bücher.example`` and ``xn--bcher-kva.example`` differ
(the client compares URLs after normalising them to IDNA, as requests sends them).

An authority (RFC 9110 section 7.2, RFC 9421 ``@authority``) is the ``host[:port]`` a
request is addressed to: the value of ``Host`` and of a signature's ``@authority``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_PORTS: Mapping[str, int] = {"http": 80, "https": 443}


class Origin(NamedTuple):
    """The server an URL belongs to: scheme and host lower-cased, the port filled in."""

    scheme: str
    host: str
    port: int


# Every inbox request compares several URLs' origins; an URL's origin never changes.
@functools.lru_cache(maxsize=4096)
def origin(url: str) -> Origin | None:
    """Return the origin of an http(s) URL; None for another scheme, no host or a bad port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port, or a broken IPv6 literal
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        return None
    # Port 0 stands for the default port, as urllib3 connects to it.
    return Origin(scheme, host, port or DEFAULT_PORTS[scheme])


def same_origin(first: str, second: str) -> bool:
    """Tell whether two URLs are http(s) URLs of the same scheme, host and port."""
    found = origin(first)
    return found is not None and found == origin(second)


def authority(url: str) -> str:
    """Return the lower-cased ``host[:port]`` of an URL, without the scheme's default port.

    An IPv6 host keeps its brackets. Raise ValueError when the URL's port is not a number
    in range or its IPv6 literal is broken.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    port = parts.port
    default = DEFAULT_PORTS.get(parts.scheme.lower())
    return host if port is None or port == default else f"{host}:{port}"


# Feed pages ----------------------------------------------------------------------------


def page_url(feed: str, after: int | str, limit: int) -> str:
    """Return the page of ``feed`` holding ``limit`` entries after ``after`` (a seq or cursor)."""
    return _with_query(feed, {"after": str(after), "limit": str(limit)})


def with_limit(url: str, limit: int) -> str:
    """Return ``url`` asking for ``limit`` entries a page (any other parameter kept)."""
    return _with_query(url, {"limit": str(limit)})


def _with_query(url: str, values: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in values]
    query += list(values.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
