"""Walk a feed for an audit: find it, read it page by page, ask each group for its keys and head.

``branchline verify`` names a group's actor or outbox, or an aggregator's actor or
combined feed; ``resolve`` turns that into a ``FeedSource``, ``walk`` yields its pages to
the end, and a ``FeedAudit`` hands them to federation.audit's ``Auditor``. Keys and heads
come from each group's OWN actor document (``GroupDocuments``), never from the aggregator
whose feed is audited. The module does no I/O of its own: every GET goes through the
``fetch`` passed in. ``Unusable`` means the feed cannot be audited at all (unreachable,
not a feed, a feed that cannot be walked to its end).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from federation.audit import Auditor, AuditReport, FeedHead, GroupUnavailable, read_json
from federation.client import Fetch, FetchResult
from federation.errors import FetchError, KeyFormatError, ResponseTooLarge
from federation.feed import ENTRY_HASH
from federation.keys import PublicKey, ed25519_public_key_from_multikey
from federation.rotation import revocations
from federation.urls import page_url, same_origin, with_limit

DEFAULT_PAGE_SIZE = 100
MIN_PAGE_SIZE = 5  # a page too large for the client's size cap is asked for again, halved
MAX_PAGES = 50_000  # a feed that never ends is refused, not followed for ever
MAX_GROUPS = 10_000  # each is asked for its keys and head: a feed naming more is refused
COLLECTION_TYPES = ("OrderedCollection", "OrderedCollectionPage")
ACTOR_TYPES = ("Group", "Person", "Service", "Application", "Organization")
AGGREGATE_PATHS = ("/aggregate/feed", "/aggregate/outbox")


class Unusable(Exception):  # noqa: N818 - the command's exit status 2, not a bug
    """The target cannot be audited: unreachable, not a feed, or not walkable to its end."""


@dataclass(frozen=True)
class ListedGroup:
    """What an aggregator says of a group it serves: shown beside the audit, never trusted."""

    name: str = ""
    held_seq: int | None = None
    state: str = ""


@dataclass(frozen=True)
class FeedSource:
    """What is being audited: whose feed, where its pages start, what it should hold."""

    kind: Literal["group", "aggregator"]
    feed: str  # the collection; its pages' next links must stay on its origin
    first_page: str
    outbox_of: str | None = None  # the group whose own outbox this is
    total: int | None = None  # entries the feed says it holds, for the progress bar
    listed: Mapping[str, ListedGroup] = field(default_factory=dict)  # an aggregator's groups


def _fetch(fetch: Fetch, url: str, what: str) -> FetchResult:
    try:
        return fetch(url)
    except FetchError as error:
        raise Unusable(f"could not fetch {what} {url}: {error}") from error


# Reading what groups publish ------------------------------------------------------------


def assertion_keys(document: Mapping[str, Any], actor: str) -> dict[str, PublicKey]:
    """Return the Ed25519 keys ``actor``'s own document publishes for its proofs, by id.

    Only Multikeys controlled by ``actor`` and named ``ACTOR#fragment`` count: a document
    cannot lend its group a key of anyone else.
    """
    if document.get("id") != actor:
        return {}
    methods = document.get("assertionMethod")
    found: dict[str, PublicKey] = {}
    for method in methods if isinstance(methods, list) else [methods]:
        if not isinstance(method, Mapping):
            continue
        key_id = method.get("id")
        if (
            not isinstance(key_id, str)
            or key_id.partition("#")[0] != actor
            or key_id == actor
            or method.get("controller") != actor
            or method.get("type") != "Multikey"
        ):
            continue
        try:
            found[key_id] = ed25519_public_key_from_multikey(str(method.get("publicKeyMultibase")))
        except (KeyFormatError, ValueError):
            continue
    return found


def declared_head(document: Mapping[str, Any]) -> FeedHead | None:
    """Return the ``feedHead`` a group's actor document declares, or None if it names none."""
    head = document.get("feedHead")
    if not isinstance(head, Mapping):
        return None
    seq = head.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        return None
    value = head.get("hash")
    if seq == 0:
        return FeedHead(0, None)
    if not isinstance(value, str) or not ENTRY_HASH.fullmatch(value):
        return None
    return FeedHead(seq, value)


class GroupDocuments:
    """The groups' own actor documents: fetched from each group, once, for its keys."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._documents: dict[str, dict[str, Any] | GroupUnavailable] = {}
        self._keys: dict[str, dict[str, PublicKey]] = {}
        self.heads: dict[str, dict[str, Any]] = {}  # the documents read for the heads

    def document(self, actor: str) -> dict[str, Any]:
        """Return ``actor``'s own document; raise GroupUnavailable if it cannot be read."""
        if actor not in self._documents:
            self._documents[actor] = self._read(actor)
        found = self._documents[actor]
        if isinstance(found, GroupUnavailable):
            raise found
        return found

    def lookup_key(self, method: str) -> PublicKey | None:
        """Return the proof key ``method`` names, as its actor's own document publishes it."""
        actor = method.partition("#")[0]
        if actor not in self._keys:
            self._keys[actor] = assertion_keys(self.document(actor), actor)
        return self._keys[actor].get(method)

    def revoked(self, actor: str) -> dict[str, datetime]:
        """Return the times from which ``actor``'s own document says its keys are untrusted."""
        return revocations(self.document(actor), actor)

    def head_of(self, actor: str) -> FeedHead | None:
        """Read the head the group declares now (read afresh: the audit took a while)."""
        found = self._read(actor)
        if isinstance(found, GroupUnavailable):
            raise found
        self.heads[actor] = found
        return declared_head(found)

    def name(self, actor: str) -> str:
        """Return the group's name as its own document gives it ('' if unknown)."""
        found = self.heads.get(actor) or self._documents.get(actor)
        if not isinstance(found, dict):
            return ""
        name = found.get("name") or found.get("preferredUsername") or ""
        return name if isinstance(name, str) else ""

    def _read(self, actor: str) -> dict[str, Any] | GroupUnavailable:
        if urlsplit(actor).scheme not in ("http", "https"):
            return GroupUnavailable(f"{actor!r} is not an http(s) URL")
        try:
            document = self._fetch(actor).document
        except FetchError as error:
            return GroupUnavailable(str(error) or type(error).__name__)
        if document.get("id") != actor:
            return GroupUnavailable(f"{actor} names itself {document.get('id')!r}")
        return document


# Finding the feed -----------------------------------------------------------------------


def resolve(target: str, fetch: Fetch, documents: GroupDocuments, page_size: int) -> FeedSource:
    """Find the feed an URL names: a group's actor or outbox, an aggregator or its feed.

    A handle (acct:handle@host) is the caller's to look up: WebFinger needs the node's
    own rules for plain HTTP.
    """
    url = target.strip()
    if not url.startswith(("https://", "http://")):
        raise Unusable("give acct:handle@host, a group's actor or outbox URL, or a feed URL")
    fetched = _fetch(fetch, url, "the target")
    document = fetched.document
    if _is_actor(document):
        return _actor_source(document, fetched.url, fetch, page_size)
    if document.get("type") in COLLECTION_TYPES:
        return _collection_source(document, fetched.url, fetch, documents, page_size)
    raise Unusable(f"{url} is neither a group, an aggregator nor a feed")


def _is_actor(document: Mapping[str, Any]) -> bool:
    return document.get("type") in ACTOR_TYPES or "aggregateFeed" in document


def _link(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id") or value.get("href")
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def _same_origin_link(value: Any, origin_of: str, what: str) -> str:
    link = _link(value)
    if link is None:
        raise Unusable(f"{origin_of} names no usable {what}")
    if not same_origin(link, origin_of):
        raise Unusable(f"{origin_of} names its {what} on another server ({link})")
    return link


def _actor_source(actor: Mapping[str, Any], url: str, fetch: Fetch, page_size: int) -> FeedSource:
    actor_id = _same_origin_link(actor.get("id"), url, "id")
    if actor.get("nodeRole") == "aggregator" or "aggregateFeed" in actor:
        feed = _same_origin_link(actor.get("aggregateFeed"), actor_id, "aggregateFeed")
        collection = _fetch(fetch, feed, "the combined feed")
        return _aggregate_source(collection.document, collection.url, page_size)
    outbox = _same_origin_link(actor.get("outbox"), actor_id, "outbox")
    head = declared_head(actor)
    return FeedSource(
        kind="group",
        feed=outbox,
        first_page=page_url(outbox, 0, page_size),
        outbox_of=actor_id,
        total=None if head is None else head.seq,
    )


def _collection_source(
    document: Mapping[str, Any],
    url: str,
    fetch: Fetch,
    documents: GroupDocuments,
    page_size: int,
) -> FeedSource:
    if document.get("type") == "OrderedCollectionPage":
        collection_url = _same_origin_link(document.get("partOf"), url, "partOf collection")
        fetched = _fetch(fetch, collection_url, "the feed")
        document, url = fetched.document, fetched.url
    feed = _link(document.get("id")) or url
    if not same_origin(feed, url):
        raise Unusable(f"{url} claims to be {feed}, on another server")
    if "groups" in document or urlsplit(feed).path.endswith(AGGREGATE_PATHS):
        return _aggregate_source(document, feed, page_size)
    return _outbox_source(document, feed, fetch, documents, page_size)


def _aggregate_source(document: Mapping[str, Any], feed: str, page_size: int) -> FeedSource:
    if document.get("type") not in COLLECTION_TYPES:
        raise Unusable(f"{feed} is not a feed (no OrderedCollection)")
    first = _link(document.get("first"))
    if first is None or not same_origin(first, feed):
        first = page_url(feed, 0, page_size)
    return FeedSource(
        kind="aggregator",
        feed=feed,
        first_page=with_limit(first, page_size),
        total=_count(document.get("totalItems")),
        listed=_listed_groups(document.get("groups")),
    )


def _listed_groups(described: Any) -> dict[str, ListedGroup]:
    listed: dict[str, ListedGroup] = {}
    for group in described[:MAX_GROUPS] if isinstance(described, list) else []:
        actor = _link(group.get("actor")) if isinstance(group, Mapping) else None
        if actor is None:
            continue
        name, state = group.get("name"), group.get("state")
        listed[actor] = ListedGroup(
            name=name if isinstance(name, str) else "",
            held_seq=_count(group.get("heldSeq")),
            state=state if isinstance(state, str) else "",
        )
    return listed


def _outbox_source(
    document: Mapping[str, Any],
    feed: str,
    fetch: Fetch,
    documents: GroupDocuments,
    page_size: int,
) -> FeedSource:
    # An outbox does not say whose it is: ask its first entry, then check that the group
    # it names publishes this very outbox on its own actor document.
    first = page_url(feed, 0, page_size)
    items = _page_items(_fetch(fetch, first, "the feed's first page").document, first)
    actor = next((_link(item.get("actor")) for item in items if isinstance(item, Mapping)), None)
    if actor is None:
        raise Unusable(f"{feed} serves no entry naming its group: nothing to verify against")
    try:
        own = documents.document(actor)
    except GroupUnavailable as error:
        raise Unusable(f"could not fetch the group {actor}: {error}") from error
    if _link(own.get("outbox")) != feed:
        raise Unusable(f"{actor} does not name {feed} as its outbox")
    return FeedSource(
        kind="group",
        feed=feed,
        first_page=first,
        outbox_of=actor,
        total=_count(document.get("totalItems")),
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


# Walking the feed -----------------------------------------------------------------------


def walk(source: FeedSource, fetch: Fetch) -> Iterator[list[Any]]:
    """Yield the entries of each page of the feed, from its first page to its last."""
    url: str | None = source.first_page
    seen: set[str] = set()
    while url is not None:
        if url in seen:
            raise Unusable(f"the feed's next links go round in a loop (back to {url})")
        if len(seen) >= MAX_PAGES:
            raise Unusable(f"the feed has more than {MAX_PAGES} pages; stopped")
        seen.add(url)
        page, url = _read_page(url, fetch, source.feed)
        yield _page_items(page, url)
        url = _next_page(page, source.feed)


def _read_page(url: str, fetch: Fetch, feed: str) -> tuple[Any, str]:
    while True:
        try:
            fetched = fetch(url)
        except ResponseTooLarge as error:
            limit = int(dict(parse_qsl(urlsplit(url).query)).get("limit", DEFAULT_PAGE_SIZE))
            if limit <= MIN_PAGE_SIZE:
                raise Unusable(f"a page of {feed} is too large to fetch: {error}") from error
            url = with_limit(url, max(MIN_PAGE_SIZE, limit // 2))
            continue
        except FetchError as error:
            raise Unusable(f"could not fetch {url}: {error}") from error
        # Parsed again from the bytes: an entry repeating a member name is then seen.
        return read_json(fetched.raw), url


def _page_items(page: Any, url: str) -> list[Any]:
    if not isinstance(page, Mapping) or page.get("type") not in COLLECTION_TYPES:
        raise Unusable(f"{url} is not a page of a feed")
    items = page.get("orderedItems", page.get("items", []))
    if not isinstance(items, list):
        raise Unusable(f"{url} is not a page of a feed (its items are not a list)")
    return [_unwrapped(item) for item in items]


def _unwrapped(item: Any) -> Any:
    # An aggregator's outbox wraps each entry in an Announce; the entry itself carries seq.
    if isinstance(item, Mapping) and "seq" not in item and item.get("type") == "Announce":
        inner = item.get("object")
        if isinstance(inner, Mapping) and "seq" in inner:
            return inner
    return item


def _next_page(page: Mapping[str, Any], feed: str) -> str | None:
    if page.get("next") is None:
        return None
    link = _link(page.get("next"))
    if link is None or not same_origin(link, feed):
        raise Unusable(f"a page of {feed} leads on to {page.get('next')!r}, off its origin")
    return link


# Auditing the feed ----------------------------------------------------------------------


class FeedAudit:
    """One audit of one feed: its pages checked as they are walked, then every group's head."""

    def __init__(
        self, source: FeedSource, fetch: Fetch, documents: GroupDocuments, *, now: datetime
    ) -> None:
        self.source = source
        self._fetch = fetch
        self._documents = documents
        self._auditor = Auditor(
            lookup_key=documents.lookup_key,
            outbox_of=source.outbox_of,
            now=now,
            revoked=documents.revoked,
        )
        for actor in source.listed:
            self._auditor.expect_group(
                actor
            )  # a listed group of which nothing is served is a finding

    @property
    def entries(self) -> int:
        """Return how many items the feed has served so far."""
        return self._auditor.entries

    @property
    def group_count(self) -> int:
        """Return how many groups the audit has met so far."""
        return self._auditor.group_count

    def check_pages(self) -> Iterator[int]:
        """Walk the feed to its end, checking each page; yield how many items each page held."""
        for items in walk(self.source, self._fetch):
            self._auditor.add_page(items)
            if self._auditor.group_count > MAX_GROUPS:
                raise Unusable(f"the feed names more than {MAX_GROUPS} groups; stopped")
            yield len(items)

    def finish(self, asking: Callable[[str], None] | None = None) -> AuditReport:
        """Ask every group for its own head (telling ``asking`` of each); return the report."""

        def head_of(actor: str) -> FeedHead | None:
            if asking is not None:
                asking(actor)
            return self._documents.head_of(actor)

        return self._auditor.finish(head_of)
