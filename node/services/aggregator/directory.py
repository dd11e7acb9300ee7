"""The aggregator's directory of groups: listing them, requests to be listed, decisions.

Groups get into the directory three ways: an admin adds one (`aggregate add`, the admin
page), a CSV file lists many (`aggregate import`), or a group asks by following the
aggregator's actor (the inbox hands that Follow here), and waits until an admin approves or
refuses. A listed group is followed and pulled like any other peer (remote_feed verifies
every entry); another aggregator is a *source* whose combined feed is pulled instead
(sources.py). A listing's states and where its feed stands are in listings.py.

What the combined feed serves is decided in combined_feed; entries that fail their checks
are kept in quarantine, for admins to see, and never served.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import or_, select

from federation.errors import FetchError
from federation.urls import same_origin

from ...extensions import db
from ...models import Follower, Following, Listing, Peer, RemoteEntry
from ...models.types import utcnow
from ..errors import Conflict, Invalid, NotFound, ServiceError
from ..peering import blocks, follows, outbound, peers, reachability, sync
from ..role import AGGREGATOR, GROUP, require_aggregator
from . import combined_feed
from .listings import (
    GROUP_KIND,
    LISTED,
    REFUSED,
    REMOVED,
    REQUESTED,
    SOURCE_KIND,
    SOURCES,
    SyncState,
    listing_of,
    sync_state,
)

MAX_REASON = 500
MAX_CSV_ROWS = 10_000


# Reading the directory ---------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryRow:
    """One line of the directory: the listing, its group, and where its feed stands."""

    listing: Listing
    sync: SyncState
    last_activity: datetime | None  # when the newest entry we hold of it arrived

    @property
    def name(self) -> str:
        return self.listing.peer.name or self.listing.peer.actor_id

    @property
    def handle(self) -> str:
        return self.listing.peer.handle or self.listing.peer.actor_id


def rows(states: tuple[str, ...] | None = None) -> list[DirectoryRow]:
    """List the directory (optionally only some listing states), by name."""
    query = select(Listing).join(Peer, Listing.peer_id == Peer.id)
    if states:
        query = query.where(Listing.state.in_(states))
    listings = list(db.session.scalars(query.order_by(Listing.kind, Peer.name, Peer.id)))
    activity = _last_activity([listing.peer for listing in listings])
    return [
        DirectoryRow(listing, sync_state(listing), activity.get(listing.peer_id))
        for listing in listings
    ]


def _last_activity(held: list[Peer]) -> dict[int, datetime]:
    """Return when the newest held entry of each peer arrived (one indexed look-up each)."""
    pairs = [(peer.id, peer.held_seq) for peer in held if peer.held_seq]
    found: dict[int, datetime] = {}
    for start in range(0, len(pairs), 200):
        chunk = pairs[start : start + 200]
        clauses = [(RemoteEntry.peer_id == pid) & (RemoteEntry.seq == seq) for pid, seq in chunk]
        rows = db.session.execute(
            select(RemoteEntry.peer_id, RemoteEntry.received_at).where(or_(*clauses))
        )
        found.update((peer_id, moment) for peer_id, moment in rows)
    return found


def requests() -> list[Listing]:
    """List the groups asking to be listed, oldest request first."""
    query = select(Listing).where(Listing.state == REQUESTED).order_by(Listing.requested_at)
    return list(db.session.scalars(query))


def get(listing_id: int) -> Listing:
    found = db.session.get(Listing, listing_id)
    if found is None:
        raise NotFound(gettext("There is no such group in the directory."))
    return found


def find(name: str) -> Listing:
    """Return the listing of a group named by handle, actor URL or directory id."""
    text = (name or "").strip()
    if text.isdigit():
        return get(int(text))
    handle = text.removeprefix("acct:").lstrip("@")
    found = db.session.scalar(
        select(Listing)
        .join(Peer, Listing.peer_id == Peer.id)
        .where(or_(Peer.actor_id == text, Peer.handle == handle, Peer.url == text))
    )
    if found is None:
        raise NotFound(gettext("%(text)s is not in the directory.", text=text))
    return found


# Adding groups -----------------------------------------------------------------------


@dataclass
class Added:
    """What adding one group (or source) did."""

    listing: Listing
    created: bool  # False: it was in the directory already (now listed again)
    backfill: sync.SyncReport | None = None

    @property
    def name(self) -> str:
        return self.listing.peer.name or self.listing.peer.actor_id


def add(target: str, *, source: str = "command", backfill: bool = True) -> Added:
    """List the group (or aggregator) at ``target``: acct:handle@host, @handle@host or a URL.

    A group is followed (the existing follow handshake) and, with ``backfill``, its whole
    feed is pulled now; otherwise the worker pulls it. Another aggregator becomes a source
    whose combined feed the worker (or `aggregate sync`) pulls.
    """
    require_aggregator()
    if source not in SOURCES:
        raise Invalid.on("source", gettext("Unknown source %(source)s.", source=repr(source)))
    target = (target or "").strip()
    if not target:
        raise Invalid.on("target", gettext("Give a handle or an actor URL."))
    if len(target) > 2000:
        raise Invalid.on("target", gettext("That is too long for a handle or URL."))
    blocks.refuse_blocked(target)
    peer = peers.resolve(target)
    blocks.refuse_blocked(peer.actor_id)
    role, feed_url = _role_of(peer)
    db.session.commit()  # keep the peer we fetched, whatever happens next
    if role == AGGREGATOR:
        return _add_source(peer, feed_url, source)
    if not peer.is_branchline:
        raise peers.PeerError(
            f"{peer.handle or peer.actor_id} publishes no signed Branchline feed: "
            "an aggregator lists Branchline groups only."
        )
    listing = listing_of(peer)
    created = listing is None
    already = listing is not None and listing.state == LISTED and listing.kind == GROUP_KIND
    # A group learned through another aggregator may be listed here in its own right.
    if already and listing.source != SOURCE_KIND and follows.followed_peer(peer) is not None:
        raise Conflict(gettext("%(value)s is already listed.", value=peer.name or peer.actor_id))
    listing = _list(peer, listing, source)
    db.session.commit()
    if follows.followed_peer(peer) is None:
        follows.follow(peer.actor_id)  # commits
    _accept_waiting_follow(peer)
    report = sync.catch_up(peer) if backfill else None
    return Added(listing, created, report)


def _role_of(peer: Peer) -> tuple[str, str]:
    """Read the node role and combined feed an actor document names (fetched once more)."""
    try:
        document = outbound.fetch(peer.actor_id).document
    except FetchError as error:
        raise peers.PeerError(f"Could not fetch {peer.actor_id}: {error}") from error
    if document.get("nodeRole") != AGGREGATOR:
        return GROUP, ""
    feed_url = document.get("aggregateFeed")
    if isinstance(feed_url, dict):
        feed_url = feed_url.get("id")
    if not isinstance(feed_url, str) or not same_origin(feed_url, peer.actor_id):
        raise peers.PeerError(
            f"{peer.actor_id} says it is an aggregator but names no combined feed on its server."
        )
    return AGGREGATOR, feed_url[:2000]


def _list(peer: Peer, listing: Listing | None, source: str) -> Listing:
    now = utcnow()
    if listing is None:
        listing = Listing(peer_id=peer.id, peer=peer)
        db.session.add(listing)
    listing.kind = GROUP_KIND
    listing.source = source
    listing.state = LISTED
    listing.reason = ""
    listing.listed_at = now
    listing.decided_at = now
    _trust_current_keys(listing)
    return listing


def _trust_current_keys(listing: Listing) -> None:
    """Take the group's current proof keys as the ones its entries must verify with."""
    peer = listing.peer
    listing.proof_keys = peer.assertion_keys or "{}"
    listing.key_changed_at = None
    if peer.state == peers.KEY_CHANGED:
        peer.state = reachability.pull_state(peer)
        peer.state_reason = ""


def _accept_waiting_follow(peer: Peer) -> None:
    """A group that asked to be listed and is now listed gets its Accept."""
    follower = db.session.scalar(select(Follower).where(Follower.peer_id == peer.id))
    if follower is not None and follower.state != follows.ACCEPTED:
        follows.approve(follower)  # commits


def _add_source(peer: Peer, feed_url: str, source: str) -> Added:
    listing = listing_of(peer)
    created = listing is None
    if listing is not None and listing.state == LISTED and listing.kind == SOURCE_KIND:
        raise Conflict(
            gettext(
                "%(value)s is already a source of this aggregator.",
                value=peer.name or peer.actor_id,
            )
        )
    if listing is None:
        listing = Listing(peer_id=peer.id, peer=peer, source=source)
        db.session.add(listing)
    listing.kind = SOURCE_KIND
    listing.state = LISTED
    listing.reason = ""
    listing.feed_url = feed_url
    listing.listed_at = listing.decided_at = utcnow()
    listing.next_pull_at = utcnow()
    db.session.commit()
    return Added(listing, created)


# CSV files ---------------------------------------------------------------------------


@dataclass
class ImportedRow:
    """One row of an imported CSV file: what it named and what became of it."""

    row: int
    target: str
    added: Added | None = None
    error: str = ""


def csv_rows(text: str) -> list[tuple[int, str]]:
    """Read (row number, group) pairs: the ``group`` column if the header names one, else the
    first column of every row. Blank rows are left out; a row with no group is kept (empty)."""
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) > MAX_CSV_ROWS:
        raise Invalid.on(
            "file",
            gettext("A file may list at most %(max_csv_rows)s groups.", max_csv_rows=MAX_CSV_ROWS),
        )
    column, start = 0, 0
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if "group" in header:
        column, start = header.index("group"), 1
    found = []
    for number, row in enumerate(rows[start:], start=start + 1):
        if not any(cell.strip() for cell in row):
            continue
        found.append((number, row[column].strip() if column < len(row) else ""))
    return found


def import_csv(text: str, *, backfill: bool = True, progress=None) -> list[ImportedRow]:
    """Add every group a CSV file names; a row that cannot be added is reported and skipped."""
    require_aggregator()
    results = []
    for number, target in csv_rows(text):
        result = ImportedRow(number, target)
        if not target:
            result.error = "no group given"
        else:
            try:
                result.added = add(target, source="csv", backfill=backfill)
            except ServiceError as error:
                db.session.rollback()
                result.error = _message(error)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def _message(error: Exception) -> str:
    fields = getattr(error, "fields", {}) or {}
    details = [text for messages in fields.values() for text in messages]
    return " ".join(details) if details else getattr(error, "message", str(error))


# Requests: a group's Follow of the aggregator -----------------------------------------


def receive_listing_request(peer: Peer) -> bool:
    """Record a Branchline group's Follow as a request to be listed; say if it must wait.

    Called by the inbox on an aggregator. A group already listed is accepted at once; any
    other waits for an admin. Followers that are not Branchline groups (a fediverse account
    reading our own feed) follow as on any node.
    """
    if not peer.is_branchline:
        return False
    listing = listing_of(peer)
    if listing is not None and (listing.state == LISTED or listing.kind == SOURCE_KIND):
        return False  # listed already, or an aggregator we pull from: an ordinary follower
    if listing is None:
        listing = Listing(peer_id=peer.id, peer=peer, kind=GROUP_KIND, source="request")
        db.session.add(listing)
    listing.kind = GROUP_KIND
    listing.state = REQUESTED
    listing.source = "request"
    listing.reason = ""
    listing.requested_at = utcnow()
    return True


def withdraw_request(peer: Peer) -> None:
    """Close a group's request to be listed when it undoes its Follow (no commit).

    Called by the inbox on an aggregator.
    """
    listing = listing_of(peer)
    if listing is not None and listing.state == REQUESTED:
        listing.state = REMOVED
        listing.reason = "It withdrew its request (undid its Follow)."
        listing.decided_at = utcnow()


def approve(listing: Listing) -> Listing:
    """List a group that asked (or list again one refused, removed or whose key changed).

    Its waiting Follow is accepted and it is followed back; the worker back-fills it.
    """
    require_aggregator()
    peer = listing.peer
    blocks.refuse_blocked(peer.actor_id)
    if listing.kind == GROUP_KIND and listing.state == REQUESTED:
        role, feed_url = _role_of(peer)
        if role == AGGREGATOR:  # another aggregator that followed us: pull it, list nothing
            _accept_waiting_follow(peer)
            return _add_source(peer, feed_url, listing.source).listing
    if listing.kind == SOURCE_KIND:
        listing.state, listing.reason = LISTED, ""
        listing.listed_at = listing.decided_at = listing.next_pull_at = utcnow()
        db.session.commit()
        return listing
    # Follow first: if the group cannot be reached, nothing is approved.
    if follows.followed_peer(peer) is None:
        follows.follow(peer.actor_id)  # commits; fetches its actor afresh
    _list(peer, listing, listing.source)
    db.session.commit()
    _accept_waiting_follow(peer)
    return listing


def refuse(listing: Listing, reason: str = "") -> Listing:
    """Turn down a group's request to be listed, and tell it (Reject of its Follow)."""
    require_aggregator()
    if listing.state == LISTED:
        raise Conflict(gettext("That group is listed: remove it instead."))
    _reject_follow(listing.peer)
    listing.state = REFUSED
    listing.reason = _reason(reason)
    listing.decided_at = utcnow()
    db.session.commit()
    return listing


def remove(listing: Listing, reason: str = "") -> Listing:
    """Take a group (or source) out of the directory: unfollow it and stop serving its entries.

    A source's groups (learned only through it) go with it.
    """
    require_aggregator()
    if listing.state == REMOVED:
        raise Conflict(gettext("That group is not in the directory any more."))
    removed = [listing]
    if listing.kind == SOURCE_KIND:
        removed += list(
            db.session.scalars(
                select(Listing).where(
                    Listing.via_id == listing.id,
                    Listing.source == SOURCE_KIND,
                    Listing.state == LISTED,
                )
            )
        )
    for gone in removed:
        following = db.session.scalar(select(Following).where(Following.peer_id == gone.peer_id))
        if following is not None:
            follows.unfollow(following)  # commits
        _reject_follow(gone.peer)
        gone.state = REMOVED
        gone.reason = _reason(reason)
        gone.decided_at = utcnow()
        combined_feed.withdraw(gone)
    db.session.commit()
    return listing


def _reject_follow(peer: Peer) -> None:
    follower = db.session.scalar(select(Follower).where(Follower.peer_id == peer.id))
    if follower is not None:
        follows.reject(follower)  # commits


def _reason(text: str) -> str:
    text = (text or "").strip()
    if len(text) > MAX_REASON:
        raise Invalid.on(
            "reason",
            gettext("Say why in at most %(max_reason)s characters.", max_reason=MAX_REASON),
        )
    return text


def listing_for_origin(peer: Peer, via: Listing) -> Listing:
    """Return the listing of a group met in ``via``'s combined feed, listing it if new."""
    listing = listing_of(peer)
    if listing is None:
        listing = _list(peer, None, SOURCE_KIND)
        listing.via_id = via.id
    return listing
