"""`branchline verify URL`: audit a group's feed or an aggregator's combined feed.

The command fetches the whole feed, page by page, and hands it to federation.audit, which
checks every group's chain and every proof. Keys and heads come from each group's OWN actor
document, fetched here, never from the aggregator whose feed is being audited. Exit status:
0 when every group verifies to its own head, 1 when anything does not, 2 when the target
cannot be audited at all (unreachable, not a feed, a feed that cannot be walked).
"""

from __future__ import annotations

import ipaddress
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from federation import client
from federation.audit import (
    Auditor,
    AuditReport,
    FeedHead,
    GroupReport,
    GroupUnavailable,
    assertion_keys,
    declared_head,
    read_json,
)
from federation.errors import FetchError, ResponseTooLarge
from federation.keys import PublicKey
from schemas.remote_actor import WebFingerIn

from ..services import groups
from ..services.peering import outbound, peers
from ..services.peering.sync import page_url

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 200  # a group's outbox serves at most 200 entries a page
MIN_PAGE_SIZE = 5  # a page too large for the client's size cap is asked for again, halved
MAX_PAGES = 50_000  # a feed that never ends is refused, not followed for ever
MAX_GROUPS = 10_000  # each is asked for its keys and head: a feed naming more is refused
COLLECTION_TYPES = ("OrderedCollection", "OrderedCollectionPage")
ACTOR_TYPES = ("Group", "Person", "Service", "Application", "Organization")
AGGREGATE_PATHS = ("/aggregate/feed", "/aggregate/outbox")


class Fetch(Protocol):
    """A guarded GET of a JSON document (outbound.fetch, or its unsigned twin)."""

    def __call__(
        self, url: str, *, accept: Sequence[str] = client.ACTIVITYPUB_TYPES
    ) -> client.FetchResult: ...


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


# Fetching -------------------------------------------------------------------------------


def _fetcher() -> Fetch:
    """Return the fetch to use: signed as this node once it is set up, else unsigned.

    Anyone may audit a feed, including someone who never set up a node: then there is no
    key to sign with, and the same guarded client fetches unsigned, under the same
    private-address policy and timeouts as outbound.fetch.
    """
    try:
        signed = groups.is_set_up()
    except SQLAlchemyError:
        signed = False
    if signed:
        return outbound.fetch
    policy = outbound.address_policy()
    config = current_app.config
    timeouts = client.Timeouts(
        connect=float(config.get("FETCH_CONNECT_TIMEOUT", 5)),
        read=float(config.get("FETCH_READ_TIMEOUT", 20)),
        total=float(config.get("FETCH_TOTAL_TIMEOUT", 60)),
    )

    def fetch(url: str, *, accept: Sequence[str] = client.ACTIVITYPUB_TYPES) -> client.FetchResult:
        return client.fetch_json(url, sign=None, accept=accept, policy=policy, timeouts=timeouts)

    return fetch


def _fetch(fetch: Fetch, url: str, what: str) -> client.FetchResult:
    try:
        return fetch(url)
    except FetchError as error:
        raise Unusable(f"could not fetch {what} {url}: {error}") from error


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
    """Find the feed ``target`` names: a handle, a group's actor or outbox, a combined feed."""
    target = target.strip()
    found = peers.ACCT.match(target)
    if found:
        url = _webfinger(*found.groups(), fetch=fetch)
    elif target.startswith(("https://", "http://")):
        url = target
    else:
        raise Unusable("give acct:handle@host, a group's actor or outbox URL, or a feed URL")
    fetched = _fetch(fetch, url, "the target")
    document = fetched.document
    if _is_actor(document):
        return _actor_source(document, fetched.url, fetch, page_size)
    if document.get("type") in COLLECTION_TYPES:
        return _collection_source(document, fetched.url, fetch, documents, page_size)
    raise Unusable(f"{url} is neither a group, an aggregator nor a feed")


def _webfinger(handle: str, host: str, *, fetch: Fetch) -> str:
    resource = quote(f"acct:{handle}@{host}", safe=":@")
    url = f"{_scheme(host)}://{host}/.well-known/webfinger?resource={resource}"
    try:
        answer = fetch(url, accept=client.WEBFINGER_TYPES).document
        links = WebFingerIn().load(answer)["links"]
    except FetchError as error:
        raise Unusable(f"could not look up {handle}@{host}: {error}") from error
    except ValidationError as error:
        raise Unusable(f"{host} sent a WebFinger answer we cannot read") from error
    for link in links:
        media = link["type"].split(";")[0].strip()
        if link["rel"] == "self" and media in peers.ACTIVITYPUB_LINK_TYPES and link["href"]:
            return link["href"]
    raise Unusable(f"{handle}@{host} has no ActivityPub actor")


def _scheme(host: str) -> str:
    # As for following (services/peers.py): plain HTTP only where private addresses are
    # allowed (tests, the demo), and then only for a host with a port or a private address.
    if not current_app.config.get("ALLOW_PRIVATE_ADDRESSES"):
        return "https"
    if host.startswith("[") or ":" in host or host == "localhost":
        return "http"
    try:
        return "https" if ipaddress.ip_address(host).is_global else "http"
    except ValueError:
        return "https"


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
    if not client.same_origin(link, origin_of):
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
    if not client.same_origin(feed, url):
        raise Unusable(f"{url} claims to be {feed}, on another server")
    if "groups" in document or urlsplit(feed).path.endswith(AGGREGATE_PATHS):
        return _aggregate_source(document, feed, page_size)
    return _outbox_source(document, feed, fetch, documents, page_size)


def _aggregate_source(document: Mapping[str, Any], feed: str, page_size: int) -> FeedSource:
    if document.get("type") not in COLLECTION_TYPES:
        raise Unusable(f"{feed} is not a feed (no OrderedCollection)")
    first = _link(document.get("first"))
    if first is None or not client.same_origin(first, feed):
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


def with_limit(url: str, limit: int) -> str:
    """Return ``url`` asking for ``limit`` entries a page (any other parameter kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "limit"] + [("limit", str(limit))]
    return urlunsplit(parts._replace(query=urlencode(query)))


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
    if link is None or not client.same_origin(link, feed):
        raise Unusable(f"a page of {feed} leads on to {page.get('next')!r}, off its origin")
    return link


# The report -----------------------------------------------------------------------------


def _head_text(head: FeedHead | None) -> str:
    if head is None:
        return "none"
    return f"seq {head.seq}" + (f" {head.hash}" if head.hash else "")


def _group_lines(group: GroupReport, name: str, claim: ListedGroup | None) -> list[str]:
    status = "OK  " if group.ok else "FAIL"
    title = f"{name} " if name else ""
    lines = [f"{status} {title}{group.actor}"]
    checked = f"{group.entries} ({group.verified} verified by proof"
    if group.redacted:
        checked += f", {len(group.redacted)} redacted: held by hash only"
    lines.append(f"     entries checked: {checked})")
    lines.append(f"     head reached: {_head_text(group.head)}")
    lines.append(f"     group's own head: {_head_text(group.declared_head)}")
    if claim is not None and (claim.held_seq is not None or claim.state):
        said = [f"holds seq {claim.held_seq}"] if claim.held_seq is not None else []
        said += [claim.state.replace("_", " ")] if claim.state else []
        lines.append(f"     the aggregator says: {', '.join(said)}")
    lines.extend(f"     note: {note}" for note in group.notes)
    if group.problem is not None:
        problem = group.problem
        where = f" at seq {problem.seq}" if problem.seq is not None else ""
        lines.append(f"     FIRST PROBLEM{where}: {problem.kind}: {problem.detail}")
    return lines


def report_text(report: AuditReport, source: FeedSource, names: Callable[[str], str]) -> str:
    """Return the report as an auditor reads it: one block per group, then a summary."""
    what = "combined feed" if source.kind == "aggregator" else "group feed"
    lines = [f"Audit of the {what} {source.feed}", ""]
    for group in report.groups:
        lines.extend(_group_lines(group, names(group.actor), source.listed.get(group.actor)))
        lines.append("")
    for stray in report.stray:
        at = f" (seq {stray.problem.seq})" if stray.problem.seq is not None else ""
        lines.append(f"FAIL item {stray.index + 1} of the feed{at}: {stray.problem.detail}")
    if report.stray:
        lines.append("")
    failed = len(report.failed)
    summary = (
        f"{len(report.groups)} group(s), {report.entries} entries: "
        f"{len(report.groups) - failed} verified, {failed} failed"
    )
    if report.stray:
        summary += f", {len(report.stray)} item(s) naming no group"
    lines.append(summary + (": everything verifies." if report.ok else "."))
    return "\n".join(lines)


def _head_json(head: FeedHead | None) -> dict[str, Any] | None:
    return None if head is None else {"seq": head.seq, "hash": head.hash}


def _claim_json(claim: ListedGroup | None) -> dict[str, Any] | None:
    if claim is None:
        return None
    return {"name": claim.name, "heldSeq": claim.held_seq, "state": claim.state}


def report_json(
    report: AuditReport, source: FeedSource, names: Callable[[str], str]
) -> dict[str, Any]:
    """Return the report as a JSON object (what --json prints)."""
    return {
        "feed": source.feed,
        "kind": source.kind,
        "ok": report.ok,
        "entries": report.entries,
        "groups": [
            {
                "actor": group.actor,
                "name": names(group.actor),
                "ok": group.ok,
                "entries": group.entries,
                "verified": group.verified,
                "redacted": list(group.redacted),
                "head": _head_json(group.head),
                "declaredHead": _head_json(group.declared_head),
                "problem": None
                if group.problem is None
                else {
                    "seq": group.problem.seq,
                    "kind": group.problem.kind,
                    "detail": group.problem.detail,
                },
                "notes": list(group.notes),
                "aggregatorSays": _claim_json(source.listed.get(group.actor)),
            }
            for group in report.groups
        ],
        "stray": [
            {
                "index": stray.index,
                "seq": stray.problem.seq,
                "kind": stray.problem.kind,
                "detail": stray.problem.detail,
            }
            for stray in report.stray
        ],
        "summary": {
            "groups": len(report.groups),
            "verified": len(report.groups) - len(report.failed),
            "failed": len(report.failed),
        },
    }


# The command ----------------------------------------------------------------------------


def audit(source: FeedSource, fetch: Fetch, documents: GroupDocuments) -> AuditReport:
    """Walk the whole feed through the audit, showing progress on stderr."""
    auditor = Auditor(
        lookup_key=documents.lookup_key, outbox_of=source.outbox_of, now=datetime.now(UTC)
    )
    for actor in source.listed:
        auditor.expect_group(actor)  # a listed group of which nothing is served is a finding
    stderr = sys.stderr  # progress on stderr, so the report on stdout can be piped
    length = max(source.total or 0, 1)
    with click.progressbar(
        length=length, label="Checking entries", show_pos=True, file=stderr
    ) as bar:
        for items in walk(source, fetch):
            auditor.add_page(items)
            if auditor.group_count > MAX_GROUPS:
                raise Unusable(f"the feed names more than {MAX_GROUPS} groups; stopped")
            bar.length = max(length, auditor.entries)
            bar.update(len(items))
    groups_met = max(auditor.group_count, 1)
    with click.progressbar(
        length=groups_met, label="Asking groups for their heads", file=stderr
    ) as bar:

        def head_of(actor: str) -> FeedHead | None:
            bar.update(1)
            return documents.head_of(actor)

        return auditor.finish(head_of)


@click.command("verify")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--page-size",
    type=click.IntRange(1, MAX_PAGE_SIZE),
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
    help="Entries asked for per page.",
)
@with_appcontext
def verify(url: str, as_json: bool, page_size: int) -> None:
    """Check every proof and chain of a group's feed or an aggregator's combined feed.

    URL is acct:handle@host, a group's actor or outbox URL, or an aggregator (its actor or
    its /aggregate/feed). Exit status 0 when everything verifies, 1 when anything does
    not, 2 when the feed cannot be read.
    """
    context = click.get_current_context()
    fetch = _fetcher()
    documents = GroupDocuments(fetch)
    try:
        source = resolve(url, fetch, documents, page_size)
        report = audit(source, fetch, documents)
    except Unusable as error:
        click.echo(f"Error: {error}", err=True)
        context.exit(EXIT_UNUSABLE)

    def name(actor: str) -> str:
        listed = source.listed.get(actor)
        return documents.name(actor) or (listed.name if listed is not None else "")

    if as_json:
        click.echo(json.dumps(report_json(report, source, name), indent=2))
    else:
        click.echo(report_text(report, source, name))
    context.exit(EXIT_OK if report.ok else EXIT_FAILED)


commands: list[click.Command] = [verify]
