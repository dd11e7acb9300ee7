"""Pull: fetch a followed peer's outbox from the last entry we hold and apply what is new.

Push is for speed, pull is for truth. ``catch_up`` asks ``outbox?after=HELD&limit=N``,
follows ``next`` page by page and hands each page's new entries to
``remote_feed.apply_entries``: ``apply_entry``'s rules, a page at a time, the one path that
verifies an entry's proof and chain position and stores it. It stops at the first entry
that is refused (the inbox marks the peer "chain broken" and says why); what was applied
before stays applied, and the next catch-up resumes after it. ``poll_due`` is what the
worker runs: each followed Branchline peer every POLL_INTERVAL_SECONDS, less often while it
does not answer, and at once when something says we are behind: a gap in what a peer
pushed (``early_entries.keep``), a peer that answers again (``reachability``), or this
node starting (``pull_all_now``: it may have been down while its peers published).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

from federation.errors import FetchError
from federation.jcs import canonicalize
from federation.urls import page_url, same_origin

from ... import write_lock
from ...extensions import db
from ...models.federation import Following, Peer
from ...models.types import utcnow
from ..aggregator import quarantine
from . import blocks, early_entries, outbound, reachability, remote_feed

Progress = Callable[[int, int], None]  # (held seq, head seq), after each page
FOLLOWING_STATES = ("pending", "accepted")  # the outbox is public: pull while we wait too
MAX_POLL_BACKOFF = timedelta(hours=6)


@dataclass
class SyncReport:
    """What one catch-up did: entries applied, where we stand, and why it stopped early."""

    peer: str
    applied: int = 0
    held_seq: int = 0
    head_seq: int = 0
    pages: int = 0
    refused: str = ""  # the inbox would not apply an entry (the chain is broken)
    error: str = ""  # the peer could not be reached or sent something unusable
    skipped: str = ""  # nothing to pull from this peer

    @property
    def ok(self) -> bool:
        """Tell whether the catch-up ran to the end of what the peer serves."""
        return not (self.refused or self.error or self.skipped)


def catch_up(peer: Peer, progress: Progress | None = None) -> SyncReport:
    """Apply every entry of ``peer``'s feed after the one we hold, in order, once each."""
    report = SyncReport(peer=peer.handle or peer.actor_id)
    if not peer.is_branchline or not peer.outbox:
        report.skipped = "not a Branchline feed: nothing to pull"
        return report
    if blocks.is_blocked(peer.actor_id):
        report.skipped = "blocked on this node: nothing is pulled from it"
        return report
    limit = int(current_app.config.get("SYNC_PAGE_SIZE", 100))
    now = utcnow()
    url: str | None = page_url(peer.outbox, peer.held_seq, limit)
    seen: set[str] = set()
    head_known = False
    try:
        while url and url not in seen:
            seen.add(url)
            page = outbound.fetch(url).document
            report.pages += 1
            head = _head_seq(page)
            if head is not None:
                peer.head_seq, head_known = max(peer.head_seq, head), True
            # The page's proofs are checked before the write lock (most of the work); under
            # it the check counts if the chain has not moved meanwhile.
            ahead, _unusable = _fresh(_items(page), peer.held_seq)
            ahead_items = _with_bodies(ahead)
            checked = remote_feed.check_run_ahead(peer, ahead_items) if ahead else None
            with write_lock.writing():  # commits the page
                remote_feed.hold(peer)  # a push may have applied some of this page meanwhile
                fresh, unusable = _fresh(_items(page), peer.held_seq)
                if fresh:
                    items = ahead_items if fresh == ahead else _with_bodies(fresh)
                    _apply(peer, items, report, checked)
                    if not report.refused:  # entries pushed early may continue the page
                        report.applied += early_entries.apply(peer)
                if unusable and not report.refused:
                    report.refused = "the outbox served an entry that is not a JSON object"
                peer.head_seq = max(peer.head_seq, peer.held_seq)
            if progress is not None:
                progress(peer.held_seq, peer.head_seq)
            if report.refused or not fresh:
                break
            url = _next_page(page, peer.outbox)
        if not head_known and report.refused:
            head = _head_seq(outbound.fetch(peer.actor_id).document)
            if head is not None:
                peer.head_seq = max(peer.head_seq, head)
    except FetchError as error:
        db.session.rollback()
        report.error = str(error) or type(error).__name__
        if error.retryable:
            reachability.contact_failed(peer.id, now, report.error)
        elif error.status is not None:
            reachability.contact_made(peer.id, now)  # it answered, just not usefully
    else:
        reachability.contact_made(peer.id, now)
    if not (report.error or report.refused) and peer.state not in reachability.STICKY_STATES:
        peer.state = reachability.pull_state(peer)
        peer.state_reason = ""
    report.held_seq, report.head_seq = peer.held_seq, peer.head_seq
    db.session.commit()
    return report


def _fresh(items: list[Any], held: int) -> tuple[list[dict[str, Any]], bool]:
    """Return the entries of a page to apply, in order, and whether an unusable one ends them.

    An entry whose seq is already held is skipped (a page boundary repeated, or a retried
    page); so is one held by the time it comes, should every entry before it apply. The
    list ends with the first entry that cannot be the next link (nothing after it would be
    reached) or before the first that is not a JSON object.
    """
    fresh: list[dict[str, Any]] = []
    for entry in items:
        if not isinstance(entry, dict):
            return fresh, True
        seq = entry.get("seq")
        usable = isinstance(seq, int) and not isinstance(seq, bool)
        if usable and seq <= held:
            continue
        fresh.append(entry)
        if not usable or seq != held + 1:
            break
        held = seq
    return fresh, False


def _with_bodies(entries: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    # Entries are stored and hashed in their RFC 8785 form, which is what a Branchline
    # outbox serves; re-serialising the parsed entry gives those same bytes back.
    return [(entry, canonicalize(entry).decode("utf-8")) for entry in entries]


def _apply(
    peer: Peer,
    items: list[tuple[dict[str, Any], str]],
    report: SyncReport,
    checked: remote_feed.Checked | None = None,
) -> None:
    results = remote_feed.apply_entries(peer, items, checked)
    for (entry, _body), result in zip(items, results, strict=False):
        outcome = getattr(result, "outcome", None)
        if outcome == "applied":
            report.applied += 1
        elif outcome != "duplicate":
            # An aggregator keeps what a listed group's outbox served that failed.
            quarantine.keep_refused(peer, result)
            reason = getattr(result, "reason", "") or peer.state_reason
            report.refused = reason or f"entry {entry.get('seq')!r} was not applied"
            return


def _items(page: Mapping[str, Any]) -> list[Any]:
    items = page.get("orderedItems", page.get("items", []))
    return items if isinstance(items, list) else []


def _next_page(page: Mapping[str, Any], outbox: str) -> str | None:
    link = page.get("next")
    if isinstance(link, Mapping):
        link = link.get("id")
    if not isinstance(link, str) or not same_origin(link, outbox):
        return None  # a page may only lead on within the peer's own origin
    return link


def _head_seq(document: Mapping[str, Any]) -> int | None:
    """Read the feed head's seq from an actor or outbox document, if it names one."""
    for name in ("feedHead", "head", "branchline:feedHead"):
        head = document.get(name)
        if isinstance(head, Mapping):
            head = head.get("seq")
        if isinstance(head, int) and not isinstance(head, bool):
            return head
    # A Branchline outbox page gives the whole feed's totalItems; elsewhere it may sit on
    # an embedded partOf collection.
    collection = document.get("partOf")
    if not isinstance(collection, Mapping):
        pages = ("OrderedCollection", "OrderedCollectionPage")
        collection = document if document.get("type") in pages else None
    total = collection.get("totalItems") if collection is not None else None
    if isinstance(total, int) and not isinstance(total, bool):
        return total
    return None


def poll_due(*, clock: Callable[[], datetime] = utcnow) -> list[SyncReport]:
    """Catch up with each followed Branchline peer whose poll is due; return the reports."""
    now = clock()
    interval = timedelta(seconds=float(current_app.config.get("POLL_INTERVAL_SECONDS", 300)))
    due = db.session.scalars(
        select(Peer.id)
        .join(Following, Following.peer_id == Peer.id)
        .where(
            Following.state.in_(FOLLOWING_STATES),
            Peer.is_branchline.is_(True),
            Peer.outbox != "",
            Peer.state.not_in(reachability.STICKY_STATES),
            or_(Peer.next_poll_at.is_(None), Peer.next_poll_at <= now),
        )
        .order_by(Peer.next_poll_at.is_not(None), Peer.next_poll_at)
    ).all()
    reports = []
    for peer_id in due:
        # One peer in the session at a time: every commit expires all the session holds, and
        # an aggregator polls a thousand groups with a commit per page. (A peer the caller
        # already holds stays.)
        held_before = db.session.identity_key(Peer, peer_id) in db.session.identity_map
        peer = db.session.get(Peer, peer_id)
        if peer is None:
            continue
        if claim_due(peer, "next_poll_at", now, interval):  # else another worker has it
            reports.append(catch_up(peer))
            peer.next_poll_at = clock() + poll_delay(peer, interval, now)
            db.session.commit()
        if not held_before:
            db.session.expunge(peer)
    return reports


def pull_all_now(*, clock: Callable[[], datetime] = utcnow) -> int:
    """Make every followed peer's poll due now (the node has just started); return how many."""
    followed = select(Following.peer_id).where(Following.state.in_(FOLLOWING_STATES))
    result = db.session.execute(
        update(Peer)
        .where(Peer.id.in_(followed.scalar_subquery()))
        .values(next_poll_at=clock())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def claim_due(row: Any, column: str, now: datetime, interval: timedelta) -> bool:
    """Move ``row``'s next-due time (``column``) on before the work, if it is still due.

    The UPDATE is conditional and committed at once, so of two workers only one gets it.
    """
    model = type(row)
    due_at = getattr(model, column)
    claimed = db.session.execute(
        update(model)
        .where(model.id == row.id, or_(due_at.is_(None), due_at <= now))
        .values({column: now + interval})
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if not claimed.rowcount:
        return False
    db.session.refresh(row)
    return True


def poll_delay(peer: Peer, interval: timedelta, now: datetime) -> timedelta:
    """How long to wait before asking ``peer`` again: longer while it does not answer."""
    if peer.unreachable_since is None:
        return interval
    # Wait about as long as it has been down (so the wait doubles), within interval..6 h.
    down_for = now - peer.unreachable_since
    return min(MAX_POLL_BACKOFF, max(interval, down_for))
