"""This group's signed feed: one entry per public change, in the change's own transaction.

The content services call ``record(item, change)`` after changing an item and before they
commit, so the change and its entry land together or not at all. Whether an item is on the
feed is read from the feed itself (the last entry about its id), so visibility changes fall
out of the same rule: public now and not on the feed is a Create, public and on the feed an
Update, no longer public (or deleted) but on the feed a Delete; members-only items that were
never public write nothing.

``append`` takes the next seq by incrementing ``site_state.feed_seq``: that UPDATE locks the
row, so concurrent writers append one after the other, with no gap and no clash. It queues
one Delivery per follower inbox in the same transaction; the delivery worker sends them.
After a restore from a backup no entry is appended until the feed is reconciled with its
followers (``recovery.guard``): a 503 rather than a seq they already hold.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from federation import feed as signed_feed

from ..activitypub import documents
from ..extensions import db
from ..keys import node_keys
from ..models import (
    Ballot,
    Campaign,
    Candidate,
    Delivery,
    Event,
    FeedEntry,
    Follower,
    Following,
    Group,
    Peer,
    Post,
    SiteState,
    utcnow,
)
from .errors import Conflict
from .groups import current_group
from .recovery import guard

CHANGES = ("create", "update", "cancel", "delete")
ACCEPTED = "accepted"  # Follower.state of a follower that gets deliveries


def record(item: Any, change: str) -> FeedEntry | None:
    """Append the entry ``change`` to ``item`` makes, if any, without committing."""
    if change not in CHANGES:
        raise ValueError(f"unknown change {change!r}")
    group = current_group()
    if group is None:
        return None  # nothing to publish before the node is set up
    guard.require_reconciled()
    try:
        db.session.flush()  # a new item needs its id; on SQLite this also takes the write lock
    except IntegrityError as exc:  # the change itself clashes: answer as commit() would
        db.session.rollback()
        raise Conflict("That clashes with something already stored.") from exc
    _lock_feed()
    now = utcnow()
    _publish_due_posts(group, now)
    if isinstance(item, Group):
        if change == "delete":
            raise ValueError("the group itself is never deleted from its feed")
        return append(documents.activity(group, "Update", documents.actor_object(item), now))
    found = documents.object_id(group, item)
    on_feed = _is_on_feed(found)
    if change != "delete" and documents.is_public(item, now):
        kind = "Update" if on_feed else "Create"
        return append(documents.activity(group, kind, _document(group, item), now))
    if on_feed:
        gone = documents.tombstone(group, item, now)
        return append(documents.activity(group, "Delete", gone, now))
    return None


def _document(group: Group, item: Any) -> dict[str, Any]:
    campaign = endorsed_by = None
    if isinstance(item, Event) and item.campaign_id is not None:
        campaign = db.session.get(Campaign, item.campaign_id)
    if isinstance(item, Candidate):
        endorsed_by = db.session.scalar(
            select(Ballot)
            .where(
                Ballot.candidate_id == item.id,
                Ballot.closed_at.is_not(None),
                Ballot.sealed.is_(False) | Ballot.counted_at.is_not(None),
            )
            .order_by(Ballot.closed_at.desc(), Ballot.id.desc())
            .limit(1)
        )
    return documents.object_document(group, item, campaign, endorsed_by)


def _lock_feed() -> None:
    # PostgreSQL: hold site_state's row from here, so the on-feed check and the append see
    # the same feed. SQLite has no row locks; the flush before already holds the write lock.
    db.session.execute(select(SiteState.id).where(SiteState.id == 1).with_for_update())


def _is_on_feed(object_id: str) -> bool:
    last = db.session.scalar(
        select(FeedEntry.activity_type)
        .where(FeedEntry.object_id == object_id)
        .order_by(FeedEntry.seq.desc())
        .limit(1)
    )
    return last is not None and last != "Delete"


def _publish_due_posts(group: Group, now: datetime) -> None:
    # A post scheduled ahead becomes public when its time comes, with no change to record:
    # the next change (or publish_due, run by the worker) publishes it first. Only posts
    # created ahead of their publication time count, so content that existed before the
    # feed did is not swept onto it.
    due = db.session.scalars(
        select(Post)
        .where(
            Post.visibility == "public",
            Post.published_at <= now,
            Post.published_at > Post.created_at,
        )
        .order_by(Post.published_at, Post.id)
    ).all()
    if not due:
        return
    ids = [documents.object_id(group, post) for post in due]
    known = set(db.session.scalars(select(FeedEntry.object_id).where(FeedEntry.object_id.in_(ids))))
    for post, found in zip(due, ids, strict=True):
        if found not in known:
            append(documents.activity(group, "Create", _document(group, post), now))


def publish_due() -> int:
    """Publish scheduled posts whose time has come and commit; return how many."""
    group = current_group()
    if group is None or guard.pending() is not None:
        return 0  # a restored node waits for `branchline recover`; the posts stay due
    before = head_seq()
    _lock_feed()
    _publish_due_posts(group, utcnow())
    published = head_seq() - before
    db.session.commit()
    return published


def append(activity: Mapping[str, Any]) -> FeedEntry:
    """Sign ``activity`` as the next entry, store it and queue its deliveries (no commit)."""
    if "id" in activity:
        raise ValueError("the feed names its entries: an activity must not bring its own id")
    guard.require_reconciled()
    group = current_group()
    seq = _next_seq()
    previous = None
    if seq > 1:
        body = db.session.scalar(select(FeedEntry.body).where(FeedEntry.seq == seq - 1))
        if body is None:
            raise RuntimeError(f"feed entry {seq - 1} is missing")
        previous = json.loads(body)
    now = utcnow().replace(microsecond=0)
    actor = documents.actor_id(group)
    document = {"id": f"{group.base_url}/outbox/{seq}", "actor": actor, **activity}
    document.setdefault("published", documents.timestamp(now))
    entry = signed_feed.build_entry(
        document,
        seq=seq,
        previous=previous,
        signing_key=node_keys().proof,
        verification_method=f"{actor}#ed25519-key",
        created=now,
    )
    obj = entry.get("object")
    row = FeedEntry(
        seq=seq,
        activity_id=entry["id"],
        activity_type=entry["type"],
        object_id=obj.get("id") if isinstance(obj, Mapping) else obj,
        object_type=_object_type(obj),
        body=signed_feed.serialize_entry(entry).decode(),
        entry_hash=signed_feed.entry_hash(entry),
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    _queue_deliveries(row, now)
    return row


def _object_type(obj: Any) -> str | None:
    if not isinstance(obj, Mapping):
        return None
    if obj.get("type") == "Tombstone":
        return obj.get("formerType")
    return obj.get("type")


def _next_seq() -> int:
    table = SiteState.__table__
    bumped = db.session.execute(
        update(table).where(table.c.id == 1).values(feed_seq=table.c.feed_seq + 1)
    )
    if bumped.rowcount == 0:  # a database from before site_state had its row
        db.session.execute(table.insert().values(id=1, content_version=0, feed_seq=1))
        return 1
    return db.session.scalar(select(table.c.feed_seq).where(table.c.id == 1))


def _queue_deliveries(entry: FeedEntry, now: datetime) -> None:
    rows = db.session.execute(
        select(Peer.id, Peer.inbox, Peer.shared_inbox)
        .join(Follower, Follower.peer_id == Peer.id)
        .where(Follower.state == ACCEPTED)
        .order_by(Peer.id)
    )
    targets: dict[str, int] = {}
    for peer_id, inbox, shared_inbox in rows:
        target = shared_inbox or inbox
        if target and target not in targets:
            targets[target] = peer_id
    db.session.add_all(
        Delivery(
            inbox=target,
            peer_id=peer_id,
            feed_entry_id=entry.id,
            state="pending",
            next_attempt_at=now,
        )
        for target, peer_id in targets.items()
    )


# --- reading ----------------------------------------------------------------------------


def head_seq() -> int:
    """Return the seq of the last entry (0 for an empty feed)."""
    return db.session.scalar(select(func.max(FeedEntry.seq))) or 0


def head() -> tuple[int, str] | None:
    """Return (seq, hash) of the last entry, or None for an empty feed."""
    row = db.session.execute(
        select(FeedEntry.seq, FeedEntry.entry_hash).order_by(FeedEntry.seq.desc()).limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def entry(seq: int) -> FeedEntry | None:
    """Return one entry by its seq."""
    return db.session.scalar(select(FeedEntry).where(FeedEntry.seq == seq))


def entries_after(after: int, limit: int) -> list[FeedEntry]:
    """Return up to ``limit`` entries after seq ``after``, oldest first."""
    return list(
        db.session.scalars(
            select(FeedEntry).where(FeedEntry.seq > after).order_by(FeedEntry.seq).limit(limit)
        )
    )


def following_count() -> int:
    """Count the groups this one follows (a number only)."""
    return db.session.scalar(
        select(func.count()).select_from(Following).where(Following.state == ACCEPTED)
    )


def follower_count() -> int:
    """Count accepted followers (a number only: who follows is never published)."""
    return db.session.scalar(
        select(func.count()).select_from(Follower).where(Follower.state == ACCEPTED)
    )
