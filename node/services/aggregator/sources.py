"""Another aggregator as a source (regional → national): pull its combined feed, verify every
entry back to the group that signed it, and serve it again.

The source is trusted with nothing but delivery. Each entry names its origin group in
``actor``; that group's keys come from its own actor document (``peers.refresh``, never from
the source), and the entry goes through ``remote_feed.apply_entries`` on the group's own
peer, as if the group had pushed it. An entry that fails is quarantined with the source
named; the group's chain is not marked broken on the source's word. An entry that cannot
continue its group's chain yet (a gap) sends us to the group's own outbox; if the group
cannot be reached the entry waits: the stored cursor stays before its page, which is read
again next time. Nothing is skipped silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import current_app
from sqlalchemy import or_, select, update

from federation import feed
from federation.errors import FetchError
from federation.jcs import canonicalize
from federation.urls import page_url, same_origin

from ... import write_lock
from ...extensions import db
from ...models import Listing, Peer
from ...models.types import utcnow
from ..peering import blocks, outbound, peers, reachability, remote_feed, sync
from ..role import is_aggregator
from . import combined_feed, directory, quarantine
from .listings import GROUP_KIND, LISTED, SOURCE_KIND

ORIGIN_REFRESH = timedelta(hours=1)  # an origin's keys are fetched again after this long
MAX_CURSOR = 100
MAX_GROUPS = 100_000


@dataclass
class SourceReport:
    """What one pull of a source's combined feed did."""

    source: str
    pages: int = 0
    applied: int = 0
    waiting: int = 0  # entries whose group's chain cannot continue yet: read again later
    quarantined: int = 0  # entries that failed their checks
    skipped: int = 0  # entries of groups an admin refused or removed
    groups: set[str] = field(default_factory=set)
    error: str = ""  # the source could not be reached or sent something unusable
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


Progress = Callable[[SourceReport], None]


def _next_cursor(page: dict[str, Any], feed_url: str) -> str | None:
    """Read the cursor of a page's ``next`` link, if it leads on within the same feed."""
    link = page.get("next")
    if isinstance(link, dict):
        link = link.get("id")
    if not isinstance(link, str) or not same_origin(link, feed_url):
        return None
    parts = urlsplit(link)
    if parts.path != urlsplit(feed_url).path:
        return None
    after = dict(parse_qsl(parts.query)).get("after")
    if not after or len(after) > MAX_CURSOR:
        return None
    return after


def _items(page: dict[str, Any]) -> list[Any]:
    items = page.get("orderedItems", page.get("items", []))
    return items if isinstance(items, list) else []


def pull(listing: Listing, progress: Progress | None = None) -> SourceReport:
    """Apply every entry of a source's combined feed after the stored cursor."""
    source = listing.peer
    report = SourceReport(source=source.handle or source.actor_id)
    if listing.kind != SOURCE_KIND or not listing.feed_url:
        report.error = "not an aggregator whose combined feed we pull"
        return report
    limit = int(current_app.config.get("SYNC_PAGE_SIZE", 100))
    now = utcnow()
    cursor = listing.cursor or "0"
    hold_at: str | None = None
    seen: set[str] = set()
    try:
        _note_heads(outbound.fetch(listing.feed_url).document)
        while True:
            url = page_url(listing.feed_url, cursor, limit)
            if url in seen:
                break
            seen.add(url)
            page = outbound.fetch(url).document
            if not isinstance(page, dict):
                report.error = f"{url} is not a page of a combined feed"
                break
            report.pages += 1
            if _apply_page(listing, _items(page), report) and hold_at is None:
                hold_at = cursor
            following = _next_cursor(page, listing.feed_url)
            if following is None:
                break
            cursor = following
            if hold_at is None:
                listing.cursor = cursor
            db.session.commit()
            if progress is not None:
                progress(report)
        listing.cursor = hold_at if hold_at is not None else cursor
    except FetchError as error:
        db.session.rollback()
        report.error = str(error) or type(error).__name__
        if error.retryable:
            reachability.contact_failed(source.id, now, report.error)
        elif error.status is not None:
            reachability.contact_made(source.id, now)
    else:
        reachability.contact_made(source.id, now)
        listing.last_pulled_at = now
    listing.reason = "; ".join([report.error, *report.problems][:5]).strip("; ")[:2000]
    db.session.commit()
    if progress is not None:
        progress(report)
    return report


def _note_heads(collection: Any) -> None:
    """Note how far the source holds each listed group: ours is behind until we hold as much."""
    described = collection.get("groups") if isinstance(collection, dict) else None
    if not isinstance(described, list):
        return
    heads: dict[str, int] = {}
    for item in described[:MAX_GROUPS]:
        if not isinstance(item, dict):
            continue
        actor, held = item.get("actor"), item.get("heldSeq")
        usable = isinstance(held, int) and not isinstance(held, bool)
        if isinstance(actor, str) and usable and 0 < held <= remote_feed.MAX_SEQ:
            heads[actor] = held
    known = db.session.execute(
        select(Peer.id, Peer.actor_id, Peer.head_seq)
        .join(Listing, Listing.peer_id == Peer.id)
        .where(Listing.state == LISTED, Listing.kind == GROUP_KIND)
    ).all()
    moved = [(pid, heads[actor]) for pid, actor, head in known if heads.get(actor, 0) > head]
    if not moved:
        return
    with write_lock.writing():
        for peer_id, held in moved:
            # In SQL, so a catch-up committing meanwhile is never undone.
            db.session.execute(
                update(Peer)
                .where(Peer.id == peer_id, Peer.head_seq < held)
                .values(head_seq=held)
                .execution_options(synchronize_session=False)
            )


def _apply_page(listing: Listing, items: list[Any], report: SourceReport) -> bool:
    """Apply one page, group by group; tell whether any entry has to wait."""
    by_origin: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        origin = _origin_of(item)
        if origin is None:
            _quarantine(listing, listing.peer, item, "the entry names no group it came from")
            report.quarantined += 1
            continue
        by_origin.setdefault(origin, []).append(item)
    waiting = False
    for origin, entries in by_origin.items():
        waiting = _apply_origin(listing, origin, entries, report) or waiting
    return waiting


def _origin_of(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    actor = item.get("actor")
    if isinstance(actor, dict):
        actor = actor.get("id")
    if isinstance(actor, str) and actor.startswith(("https://", "http://")) and len(actor) < 2000:
        return actor
    entry_id = item.get("id")
    if feed.is_redacted(item) and isinstance(entry_id, str):
        # A redaction stub keeps no actor: it belongs to the listed group on its server.
        listed = db.session.scalars(
            select(Peer.actor_id)
            .join(Listing, Listing.peer_id == Peer.id)
            .where(Listing.kind == GROUP_KIND)
        )
        owners = [actor_id for actor_id in listed if same_origin(actor_id, entry_id)]
        return owners[0] if len(owners) == 1 else None
    return None


def _apply_origin(
    listing: Listing, origin: str, entries: list[dict[str, Any]], report: SourceReport
) -> bool:
    """Apply a page's entries of one group to that group's own peer; tell if some must wait."""
    if origin == outbound.actor_id():
        return False  # our own entries, served back to us: we hold the originals
    if blocks.is_blocked(origin):
        report.skipped += len(entries)  # blocked here: neither fetched, stored nor served
        return False
    group = _origin_peer(origin)
    if group is None:
        report.waiting += len(entries)
        report.problems.append(f"cannot fetch {origin} to check its entries")
        return True
    if not group.is_branchline:
        report.skipped += len(entries)
        report.problems.append(f"{origin} publishes no signed feed: its entries are not taken")
        return False
    target = directory.listing_for_origin(group, listing)
    db.session.commit()
    if target.state != LISTED or target.kind != GROUP_KIND:
        report.skipped += len(entries)  # an admin turned it down here: not ours to serve
        return False
    report.groups.add(group.actor_id)
    results = _apply(listing, group, entries, report)
    last = results[-1] if results else None
    if last is None or last.outcome in ("applied", "duplicate"):
        return False
    if last.outcome == "refused":
        report.problems.append(
            f"served entry {last.seq} of {group.name} ({group.actor_id}), which does not "
            f"verify against the group's own key ({last.reason})"
        )
    # A gap, or an entry we refused: the group's own outbox says what its chain is.
    caught = sync.catch_up(group)
    report.applied += caught.applied
    if caught.error or caught.skipped:
        waiting = sum(1 for entry in entries if _seq(entry) > group.held_seq)
        report.waiting += waiting
        return waiting > 0
    if caught.refused:
        return False  # the group's own feed is broken: its state says so, sticky
    results = _apply(listing, group, entries, report)
    if results and results[-1].outcome == "behind":
        report.waiting += 1
        report.problems.append(
            f"{group.name or group.actor_id}: entry {group.held_seq + 1} is missing everywhere"
        )
        return True
    return False


def _origin_peer(origin: str) -> Peer | None:
    """Return the origin group's peer, its keys fetched from its own actor (now and then)."""
    found = peers.find(origin)
    if found is not None and found.fetched_at and utcnow() - found.fetched_at < ORIGIN_REFRESH:
        return found
    try:
        refreshed = peers.refresh(origin)
        db.session.commit()
    except peers.PeerError as error:
        db.session.rollback()
        current_app.logger.info("cannot refresh origin %s: %s", origin, error.message)
        return peers.find(origin)  # keep the keys we have, if any
    return refreshed


def _seq(entry: dict[str, Any]) -> int:
    seq = entry.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else 0


def _apply(
    listing: Listing, group: Peer, entries: list[dict[str, Any]], report: SourceReport
) -> list[remote_feed.ApplyResult]:
    with write_lock.writing():
        remote_feed.hold(group)
        held = group.held_seq
        items: list[tuple[dict[str, Any], str]] = []
        for entry in entries:
            if 0 < _seq(entry) <= held:
                continue  # held already (a page read again, or pushed to us meanwhile)
            try:
                items.append((entry, canonicalize(entry).decode("utf-8")))
            except (TypeError, ValueError):
                _quarantine(listing, group, entry, "the entry is not JSON we can canonicalise")
                report.quarantined += 1
                break
        if not items:
            return []
        before = (group.state, group.state_reason)
        results = remote_feed.apply_entries(group, items)
        report.applied += sum(1 for result in results if result.applied)
        if results and results[-1].outcome == "refused":
            # Kept with the source named: it served the entry.
            quarantine.keep_refused(group, results[-1], via=listing.peer_id)
            report.quarantined += 1
            # The source served it, not the group: the group's chain is not broken on its
            # word (catch_up asks the group itself). A state an admin must see stays.
            if before[0] in reachability.STICKY_STATES:
                group.state, group.state_reason = before
            else:
                group.state, group.state_reason = reachability.pull_state(group), ""
        return results


def _quarantine(listing: Listing, peer: Peer, item: Any, reason: str) -> None:
    try:
        body = canonicalize(item).decode("utf-8")
    except (TypeError, ValueError):
        body = json.dumps(item, ensure_ascii=False, default=str)
    seq = _seq(item) if isinstance(item, dict) else None
    with write_lock.writing():
        quarantine.keep(peer, seq, body, reason, via=listing.peer_id)


# The worker --------------------------------------------------------------------------


def pull_due(*, clock: Callable[[], datetime] = utcnow) -> list[SourceReport]:
    """Pull each source whose pull is due; return the reports."""
    now = clock()
    interval = timedelta(seconds=float(current_app.config.get("POLL_INTERVAL_SECONDS", 300)))
    due = db.session.scalars(
        select(Listing)
        .where(
            Listing.kind == SOURCE_KIND,
            Listing.state == LISTED,
            or_(Listing.next_pull_at.is_(None), Listing.next_pull_at <= now),
        )
        .order_by(Listing.id)
    ).all()
    reports = []
    for listing in due:
        if not sync.claim_due(listing, "next_pull_at", now, interval):
            continue  # another worker is pulling it
        report = pull(listing)
        listing.next_pull_at = clock() + sync.poll_delay(listing.peer, interval, now)
        db.session.commit()
        reports.append(report)
    return reports


def run_due() -> int:
    """The worker's step on an aggregator: pull due sources, admit new entries to the
    combined feed; return how many entries that applied and admitted."""
    if not is_aggregator():
        return 0
    applied = sum(report.applied for report in pull_due())
    return applied + combined_feed.admit()
