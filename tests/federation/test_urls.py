"""Origins, authorities and feed-page URLs, with the RFCs' own examples where they give any."""

from __future__ import annotations

import pytest

from federation.urls import Origin, authority, origin, page_url, same_origin, with_limit

# --- origins ------------------------------------------------------------------------------

# RFC 6454 section 3.2.1: these all have the same origin as the first ...
RFC6454_SAME = ["http://example.com/", "http://example.com:80/", "http://example.com/path/file"]
# ... and these each a different one.
RFC6454_DIFFERENT = [
    "http://example.com:8080/",
    "http://www.example.com/",
    "https://example.com:80/",
    "https://example.com/",
    "http://example.org/",
    "http://ietf.org/",
]


@pytest.mark.parametrize("url", RFC6454_SAME)
def test_rfc6454_examples_of_the_same_origin(url):
    assert same_origin(url, "http://example.com/")
    assert origin(url) == Origin("http", "example.com", 80)


@pytest.mark.parametrize("url", RFC6454_DIFFERENT)
def test_rfc6454_examples_of_different_origins(url):
    assert not same_origin(url, "http://example.com/")
    assert not same_origin("http://example.com/", url)


# RFC 9110 section 4.2.3: three spellings of one http URI.
@pytest.mark.parametrize(
    "url", ["http://example.com:80/~smith/home.html", "http://EXAMPLE.com:/%7esmith/home.html"]
)
def test_rfc9110_equivalent_uris_share_an_origin(url):
    assert same_origin(url, "http://EXAMPLE.com/%7Esmith/home.html")


def test_scheme_and_host_are_compared_lower_cased():
    assert origin("HTTPS://Peer.EXAMPLE/actor") == Origin("https", "peer.example", 443)


def test_default_ports_are_filled_in():
    assert origin("https://peer.example/a") == Origin("https", "peer.example", 443)
    assert origin("http://peer.example/a") == Origin("http", "peer.example", 80)
    assert same_origin("https://peer.example:443/a", "https://peer.example/b")
    assert not same_origin("http://peer.example:443/a", "https://peer.example/b")


def test_port_zero_stands_for_the_default_port_as_urllib3_connects():
    assert origin("https://peer.example:0/") == Origin("https", "peer.example", 443)


def test_userinfo_is_no_part_of_the_origin():
    # As in RFC 6454 and the WHATWG URL standard; the client refuses such URLs itself.
    assert same_origin("https://user:pw@peer.example/x", "https://peer.example/actor")
    assert same_origin("https://peer.example:443@evil.example/", "https://evil.example/")
    assert not same_origin("https://peer.example:443@evil.example/", "https://peer.example/")


def test_ipv6_hosts_have_origins():
    assert origin("http://[::1]:8000/inbox") == Origin("http", "::1", 8000)
    assert origin("https://[2001:DB8::1]/") == Origin("https", "2001:db8::1", 443)


def test_hosts_are_compared_as_written_without_idna():
    assert not same_origin("https://bücher.example/", "https://xn--bcher-kva.example/")
    assert same_origin("https://BÜCHER.example/", "https://bücher.example/")
    assert not same_origin("https://peer.example./", "https://peer.example/")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://peer.example/actor",
        "file:///etc/passwd",
        "mailto:rosa@peer.example",
        "acct:group@peer.example",
        "/relative/path",
        "",
        "http:///no-host",
        "https://:443/",
        "https://peer.example:99999/",
        "https://peer.example:abc/",
        "http://[::1/",
    ],
)
def test_urls_without_an_http_origin_have_none_and_match_nothing(url):
    assert origin(url) is None
    assert not same_origin(url, url)
    assert not same_origin(url, "https://peer.example/")
    assert not same_origin("https://peer.example/", url)


# --- authorities --------------------------------------------------------------------------


# RFC 9421 section 2.2.3 derives "@authority: www.example.com" for a request to
# https://www.example.com/path?param=Value; RFC 9110 section 7.2 omits a default port.
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.example.com/path?param=Value", "www.example.com"),
        ("https://WWW.Example.COM:443/", "www.example.com"),
        ("HTTP://example.com:80/", "example.com"),
        ("https://example.com:8443/", "example.com:8443"),
        ("http://example.com:443/", "example.com:443"),
        ("https://example.com:80/", "example.com:80"),
        ("http://[::1]:8000/inbox", "[::1]:8000"),
        ("https://[2001:DB8::1]/", "[2001:db8::1]"),
        ("https://user:pw@example.com/", "example.com"),
        ("https://example.com:0/", "example.com:0"),
        ("/just/a/path", ""),
    ],
)
def test_authority_is_the_host_and_any_port_but_the_default(url, expected):
    assert authority(url) == expected


@pytest.mark.parametrize("url", ["https://example.com:99999/", "https://example.com:x/"])
def test_authority_of_an_url_with_a_bad_port_is_a_value_error(url):
    with pytest.raises(ValueError):
        authority(url)


# --- feed pages ---------------------------------------------------------------------------

FEED = "https://national.example/aggregate/feed"


def test_page_url_asks_for_the_entries_after_a_seq_or_a_cursor():
    assert page_url(f"{FEED}", 0, 100) == f"{FEED}?after=0&limit=100"
    assert page_url(f"{FEED}?after=9&limit=5", 12, 50) == f"{FEED}?after=12&limit=50"
    assert page_url(f"{FEED}?kind=group&limit=5", "c-7", 50) == (
        f"{FEED}?kind=group&after=c-7&limit=50"
    )


def test_with_limit_replaces_only_the_limit():
    assert with_limit(f"{FEED}?after=abc&limit=100", 7) == f"{FEED}?after=abc&limit=7"
    assert with_limit(FEED, 7) == f"{FEED}?limit=7"
