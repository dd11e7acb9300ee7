"""The feed walker behind `branchline verify`: finding a feed, walking it, asking the groups.

Every GET goes through a fake ``fetch`` that serves documents from a dict, so these tests
need no server: the CLI's tests (tests/node/peering/test_cli_verify.py) run the same
walk through the real client.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from federation import feed_walk, keys
from federation.audit import AuditReport, FeedHead, GroupUnavailable
from federation.client import ACTIVITYPUB_TYPES, FetchResult
from federation.errors import FetchError, ResponseTooLarge
from federation.feed_walk import (
    FeedAudit,
    FeedSource,
    GroupDocuments,
    ListedGroup,
    Unusable,
    assertion_keys,
    declared_head,
    resolve,
    walk,
)
from tests.federation.feed_support import Group, interleave

NOW = datetime(2030, 6, 1, tzinfo=UTC)
AGGREGATOR = "https://national.example"
COMBINED = f"{AGGREGATOR}/aggregate/feed"


class Web:
    """Documents by URL, answered as the guarded client would; feeds paged by after/limit."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.feeds: dict[str, list[Any]] = {}
        self.next_link: Callable[[str, int, int], str] | None = None
        self.too_large_above: int | None = None  # pages asking for more overflow the size cap
        self.asked: list[str] = []

    def fetch(self, url: str, *, accept: Sequence[str] = ACTIVITYPUB_TYPES) -> FetchResult:
        self.asked.append(url)
        base, _, query = url.partition("?")
        if query and base in self.feeds:
            document = self._page(base, url)
        elif url in self.documents:
            document = self.documents[url]
        else:
            raise FetchError(f"GET {url} answered 404", url=url, status=404)
        return FetchResult(url, 200, {}, document, json.dumps(document).encode())

    def host(self, group: Group, served: list[Any] | None = None) -> None:
        """Serve ``group``'s actor document and its outbox (``served``, else its entries)."""
        self.documents[group.actor] = group.actor_document()
        self.serve_feed(group.outbox, group.entries if served is None else served)

    def serve_feed(self, base: str, entries: list[Any], **extra: Any) -> None:
        self.feeds[base] = entries
        self.documents[base] = {
            "id": base,
            "type": "OrderedCollection",
            "totalItems": len(entries),
            **extra,
        }

    def _page(self, base: str, url: str) -> dict[str, Any]:
        query = parse_qs(urlsplit(url).query)
        after, limit = int(query.get("after", ["0"])[0]), int(query.get("limit", ["50"])[0])
        if self.too_large_above is not None and limit > self.too_large_above:
            raise ResponseTooLarge(f"{url} sent more than 1048576 bytes", url=url, status=200)
        entries = self.feeds[base]
        page: dict[str, Any] = {
            "id": url,
            "type": "OrderedCollectionPage",
            "partOf": base,
            "orderedItems": entries[after : after + limit],
        }
        if after + limit < len(entries):
            page["next"] = (self.next_link or _next)(base, after + limit, limit)
        return page


def _next(base: str, after: int, limit: int) -> str:
    return f"{base}?after={after}&limit={limit}"


@pytest.fixture
def web() -> Web:
    return Web()


@pytest.fixture
def leeds(web) -> Group:
    group = Group("leeds.example", 5)
    web.host(group)
    return group


@pytest.fixture
def hull(web) -> Group:
    group = Group("hull.example", 3)
    web.host(group)
    return group


def _aggregate(web: Web, *groups: Group, served: list[Any] | None = None) -> None:
    web.documents[f"{AGGREGATOR}/actor"] = {
        "id": f"{AGGREGATOR}/actor",
        "type": "Service",
        "nodeRole": "aggregator",
        "aggregateFeed": COMBINED,
    }
    listed = [
        {"actor": group.actor, "name": f"Group of {group.host}", "heldSeq": len(group.entries)}
        for group in groups
    ]
    entries = interleave(*(group.entries for group in groups)) if served is None else served
    web.serve_feed(COMBINED, entries, groups=listed, first=f"{COMBINED}?after=0&limit=100")


def _resolve(web: Web, target: str, page_size: int = 2) -> FeedSource:
    return resolve(target, web.fetch, GroupDocuments(web.fetch), page_size)


def _walked(web: Web, source: FeedSource) -> list[list[Any]]:
    return list(walk(source, web.fetch))


# Finding the feed ------------------------------------------------------------------------


def test_group_actor_leads_to_its_own_outbox_from_the_first_entry(web, leeds):
    source = _resolve(web, leeds.actor)

    assert source == FeedSource(
        kind="group",
        feed=leeds.outbox,
        first_page=f"{leeds.outbox}?after=0&limit=2",
        outbox_of=leeds.actor,
        total=5,
    )


def test_outbox_belongs_to_the_group_its_first_entry_names(web, leeds):
    source = _resolve(web, leeds.outbox)

    assert (source.kind, source.outbox_of, source.total) == ("group", leeds.actor, 5)
    assert source.first_page == f"{leeds.outbox}?after=0&limit=2"


def test_page_of_an_outbox_leads_to_its_collection(web, leeds):
    source = _resolve(web, f"{leeds.outbox}?after=2&limit=2")

    assert (source.feed, source.outbox_of) == (leeds.outbox, leeds.actor)


def test_outbox_its_group_does_not_name_as_its_own_is_unusable(web, leeds):
    web.documents[leeds.actor]["outbox"] = "https://leeds.example/elsewhere"

    with pytest.raises(Unusable, match="does not name https://leeds.example/outbox"):
        _resolve(web, leeds.outbox)


def test_outbox_whose_entries_name_no_group_is_unusable(web):
    web.serve_feed("https://leeds.example/outbox", [{"type": "Create"}])

    with pytest.raises(Unusable, match="serves no entry naming its group"):
        _resolve(web, "https://leeds.example/outbox")


def test_actor_naming_its_outbox_on_another_server_is_unusable(web, leeds):
    web.documents[leeds.actor]["outbox"] = "https://elsewhere.example/outbox"

    with pytest.raises(Unusable, match="names its outbox on another server"):
        _resolve(web, leeds.actor)


def test_aggregator_leads_to_its_combined_feed_and_the_groups_it_lists(web, leeds, hull):
    _aggregate(web, leeds, hull)
    web.documents[COMBINED]["groups"] += [{"name": "no actor"}, "not a group"]

    for target in (f"{AGGREGATOR}/actor", COMBINED, f"{COMBINED}?after=0"):
        source = _resolve(web, target, page_size=4)

        assert (source.kind, source.feed, source.total) == ("aggregator", COMBINED, 8)
        assert source.first_page == f"{COMBINED}?after=0&limit=4"
        assert source.outbox_of is None
        assert source.listed == {
            leeds.actor: ListedGroup(name="Group of leeds.example", held_seq=5),
            hull.actor: ListedGroup(name="Group of hull.example", held_seq=3),
        }


@pytest.mark.parametrize("target", ["not a url", "acct:leeds@leeds.example", "ftp://x.example"])
def test_target_that_is_not_an_http_url_is_unusable(web, target):
    with pytest.raises(Unusable, match="give acct:handle@host"):
        _resolve(web, target)
    assert web.asked == []


def test_unreachable_target_is_unusable(web):
    with pytest.raises(Unusable, match="could not fetch the target https://gone.example/actor"):
        _resolve(web, "https://gone.example/actor")


def test_document_that_is_no_actor_and_no_feed_is_unusable(web):
    web.documents["https://leeds.example/notes/1"] = {"type": "Note"}

    with pytest.raises(Unusable, match="neither a group, an aggregator nor a feed"):
        _resolve(web, "https://leeds.example/notes/1")


# Walking the feed ------------------------------------------------------------------------


def test_walk_yields_every_page_in_order(web, leeds):
    pages = _walked(web, _resolve(web, leeds.actor))

    assert pages == [leeds.entries[0:2], leeds.entries[2:4], leeds.entries[4:5]]


def test_walk_unwraps_entries_an_aggregator_announces(web, leeds):
    announced = [{"type": "Announce", "object": entry} for entry in leeds.entries]
    web.serve_feed(COMBINED, announced)

    pages = _walked(web, FeedSource("aggregator", COMBINED, f"{COMBINED}?after=0&limit=5"))

    assert pages == [leeds.entries]


def test_walk_does_not_follow_a_next_link_off_the_feeds_origin(web, leeds):
    web.next_link = lambda _base, after, limit: f"https://evil.example/feed?after={after}"

    with pytest.raises(Unusable, match="off its origin"):
        _walked(web, _resolve(web, leeds.actor))
    assert not any(url.startswith("https://evil.example") for url in web.asked)


def test_walk_catches_next_links_that_go_round_in_a_loop(web, leeds):
    web.next_link = lambda base, _after, limit: f"{base}?after=0&limit={limit}"

    with pytest.raises(Unusable, match="loop"):
        _walked(web, _resolve(web, leeds.actor))


def test_walk_asks_again_in_halves_for_a_page_too_large_to_fetch(web, leeds):
    web.too_large_above = 5
    source = FeedSource("group", leeds.outbox, f"{leeds.outbox}?after=0&limit=16", leeds.actor)

    pages = _walked(web, source)

    assert pages == [leeds.entries]
    limits = [parse_qs(urlsplit(url).query)["limit"] for url in web.asked]
    assert limits == [["16"], ["8"], ["5"]]


def test_walk_gives_up_on_a_page_too_large_even_when_small(web, leeds):
    web.too_large_above = 1
    source = FeedSource("group", leeds.outbox, f"{leeds.outbox}?after=0&limit=16", leeds.actor)

    with pytest.raises(Unusable, match="too large to fetch"):
        _walked(web, source)


def test_page_that_is_not_a_collection_is_unusable(web):
    web.documents["https://leeds.example/page"] = {"type": "Note"}

    with pytest.raises(Unusable, match="is not a page of a feed"):
        _walked(
            web, FeedSource("group", "https://leeds.example/outbox", "https://leeds.example/page")
        )


# The groups' own documents ---------------------------------------------------------------


def test_group_documents_read_each_actor_once_for_its_keys(web, leeds):
    documents = GroupDocuments(web.fetch)

    assert documents.lookup_key(leeds.key_id) is not None
    assert documents.lookup_key(f"{leeds.actor}#other-key") is None
    assert web.asked == [leeds.actor]
    assert documents.name(leeds.actor) == "Group of leeds.example"


def test_group_head_is_read_afresh_each_time(web, leeds):
    documents = GroupDocuments(web.fetch)
    documents.document(leeds.actor)
    leeds.add()
    web.host(leeds)

    head = documents.head_of(leeds.actor)

    assert head == declared_head(leeds.actor_document())
    assert head is not None and head.seq == 6
    assert web.asked == [leeds.actor, leeds.actor]


@pytest.mark.parametrize(
    ("actor", "reason"),
    [
        ("https://gone.example/actor", "answered 404"),
        ("https://leeds.example/someone", "names itself"),
        ("acct:leeds@leeds.example", r"not an http\(s\) URL"),
    ],
)
def test_group_whose_own_document_cannot_be_read_is_unavailable(web, leeds, actor, reason):
    web.documents["https://leeds.example/someone"] = leeds.actor_document()
    documents = GroupDocuments(web.fetch)

    with pytest.raises(GroupUnavailable, match=reason):
        documents.document(actor)
    with pytest.raises(GroupUnavailable, match=reason):
        documents.head_of(actor)
    assert documents.name(actor) == ""


def test_assertion_keys_takes_only_the_actors_own_multikeys():
    group = Group("leeds.example")
    document = group.actor_document()
    stranger = keys.generate_ed25519_key().public_key()
    document["assertionMethod"].append(
        {
            "id": "https://national.example/actor#ed25519-key",
            "type": "Multikey",
            "controller": group.actor,
            "publicKeyMultibase": keys.ed25519_public_key_to_multikey(stranger),
        }
    )
    document["assertionMethod"].append(
        {"id": f"{group.actor}#broken", "type": "Multikey", "controller": group.actor}
    )

    found = assertion_keys(document, group.actor)

    assert list(found) == [group.key_id]
    assert assertion_keys(document, "https://other.example/actor") == {}


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ({"seq": 0}, FeedHead(0, None)),
        ({"seq": 3, "hash": "sha256:" + "a" * 64}, FeedHead(3, "sha256:" + "a" * 64)),
        ({"seq": 3}, None),
        ({"seq": -1}, None),
        ({"seq": True, "hash": "sha256:" + "a" * 64}, None),
        ("3", None),
    ],
)
def test_declared_head_reads_feed_head(head, expected):
    assert declared_head({"feedHead": head}) == expected


# The whole audit -------------------------------------------------------------------------


@dataclass
class Audited:
    """What one FeedAudit did: the entries of each page, the groups asked, the report."""

    run: FeedAudit
    pages: list[int]
    asked: list[str]
    report: AuditReport


def _audit(web: Web, target: str, page_size: int = 3) -> Audited:
    run = FeedAudit(_resolve(web, target, page_size), web.fetch, GroupDocuments(web.fetch), now=NOW)
    pages = list(run.check_pages())
    asked: list[str] = []
    return Audited(run, pages, asked, run.finish(asked.append))


def test_audit_checks_every_page_then_asks_each_group_for_its_head(web, leeds, hull):
    _aggregate(web, leeds, hull)

    audited = _audit(web, COMBINED)

    assert audited.pages == [3, 3, 2]
    assert (audited.run.entries, audited.run.group_count) == (8, 2)
    assert audited.asked == [leeds.actor, hull.actor]
    assert audited.report.ok
    assert [group.verified for group in audited.report.groups] == [5, 3]


def test_audit_reports_a_listed_group_of_which_nothing_is_served(web, leeds, hull):
    _aggregate(web, leeds, hull, served=leeds.entries)

    report = _audit(web, COMBINED).report

    assert [group.actor for group in report.failed] == [hull.actor]
    assert report.failed[0].problem is not None
    assert report.failed[0].problem.kind == "tail-dropped"


def test_audit_of_a_group_outbox_finds_what_it_lost(web, leeds):
    web.feeds[leeds.outbox] = leeds.entries[:2] + leeds.entries[3:]

    report = _audit(web, leeds.actor).report

    assert [group.actor for group in report.failed] == [leeds.actor]
    assert report.failed[0].problem is not None
    assert (report.failed[0].problem.seq, report.failed[0].problem.kind) == (3, "gap")


def test_feed_naming_more_groups_than_allowed_is_unusable(web, leeds, hull, monkeypatch):
    monkeypatch.setattr(feed_walk, "MAX_GROUPS", 1)
    _aggregate(web, leeds, hull)
    run = FeedAudit(_resolve(web, COMBINED, 3), web.fetch, GroupDocuments(web.fetch), now=NOW)

    with pytest.raises(Unusable, match="more than 1 groups"):
        list(run.check_pages())
