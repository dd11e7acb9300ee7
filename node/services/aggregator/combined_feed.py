"""The combined feed: every verified entry of every listed group, re-served byte for byte.

Entries get in through remote_feed (pushed to the inbox, pulled from a group's outbox, or
pulled from another aggregator's combined feed) and are held in ``remote_entry`` exactly as
their group signed them. ``admit`` then gives each new one a cursor: the next number, handed
out under the lock of ``combined_feed_state``'s row, so cursors follow commit order and a
reader resuming ``?after=CURSOR`` can never skip an entry committed after it read. Entries
of one group are admitted in seq order, with no gap, and only while the group's proof key
is the one it was listed with (a change waits for an admin; see listings.sync_state).

A page is one indexed query: the cursors after ``after`` joined to the stored bodies.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, insert, or_, select, update

from federation.proofs import format_created

from ... import write_lock
from ...extensions import db
from ...models import CombinedEntry, CombinedFeedState, Listing, Peer, RemoteEntry
from ...models.types import utcnow
from ..peering import peers, remote_feed
from ..role import is_aggregator
from .listings import GROUP_KIND, LISTED, sync_state

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
ADMIT_BATCH = 5000  # entries admitted per transaction; the rest in the next one


def _lock() -> CombinedFeedState:
    """Take the combined feed's row for this transaction (writers queue here) and read it."""
    table = CombinedFeedState.__table__
    taken = db.session.execute(
        update(table).where(table.c.id == 1).values(last_cursor=table.c.last_cursor)
    )
    if taken.rowcount == 0:  # a database emptied by hand; the migration made the row
        db.session.execute(table.insert().values(id=1, last_cursor=0, entries=0))
    return db.session.get(CombinedFeedState, 1, populate_existing=True)


def _waiting_listings() -> list[int]:
    """Ids of listed groups holding entries not served yet, or whose keys need a look."""
    query = (
        select(Listing.id)
        .join(Peer, Listing.peer_id == Peer.id)
        .where(
            Listing.state == LISTED,
            Listing.kind == GROUP_KIND,
            Listing.key_changed_at.is_(None),
            or_(Peer.held_seq > Listing.served_seq, Listing.proof_keys != Peer.assertion_keys),
        )
        .order_by(Listing.id)
    )
    return list(db.session.scalars(query))


def admit(limit: int = ADMIT_BATCH) -> int:
    """Give new held entries of listed groups their cursors; return how many were admitted."""
    if not is_aggregator():
        return 0
    waiting = _waiting_listings()
    if not waiting:
        return 0
    admitted = 0
    with write_lock.writing():
        state = _lock()
        now = utcnow()
        # Read again under the lock: another writer may have admitted some meanwhile.
        listings = db.session.scalars(
            select(Listing)
            .where(Listing.id.in_(waiting))
            .order_by(Listing.id)
            .execution_options(populate_existing=True)
        ).all()
        for listing in listings:
            if admitted >= limit:
                break
            if not _keys_hold(listing):
                continue
            rows = db.session.execute(
                select(RemoteEntry.id, RemoteEntry.seq, RemoteEntry.entry_hash)
                .where(
                    RemoteEntry.peer_id == listing.peer_id,
                    RemoteEntry.seq > listing.served_seq,
                    RemoteEntry.seq <= listing.peer.held_seq,
                    RemoteEntry.verification != remote_feed.SIGNATURE_ONLY,
                )
                .order_by(RemoteEntry.seq)
                .limit(limit - admitted)
            ).all()
            batch: list[dict[str, Any]] = []
            for entry_id, seq, entry_hash in rows:
                if seq != listing.served_seq + 1:
                    break  # never serve past a hole in what we hold
                state.last_cursor += 1
                batch.append(
                    {
                        "cursor": state.last_cursor,
                        "remote_entry_id": entry_id,
                        "listing_id": listing.id,
                        "served_at": now,
                    }
                )
                listing.served_seq, listing.served_hash = seq, entry_hash
            if batch:
                db.session.execute(insert(CombinedEntry), batch)
                admitted += len(batch)
        state.entries += admitted
    return admitted


def _keys_hold(listing: Listing) -> bool:
    """Tell whether the group still proves with the keys it was listed with; mark it if not."""
    peer = listing.peer
    current = peer.assertion_keys or "{}"
    if not listing.proof_keys:
        listing.proof_keys = current  # listed before we noted its keys: trust them now
        return True
    if listing.key_changed_at is not None:
        return False
    if current == listing.proof_keys:
        return True
    if _keys_only_added(listing.proof_keys, current):
        # A rotation adds the new key and keeps the old ones listed; entries signed with
        # the new key were held only through the rotation entry in the group's own feed
        # (federation.rotation), so there is nothing for an admin to decide.
        listing.proof_keys = current
        return True
    listing.key_changed_at = utcnow()
    peer.state = peers.KEY_CHANGED
    peer.state_reason = (
        f"its proof key changed after entry {listing.served_seq}; "
        "entries after that wait until an admin approves the group again"
    )
    current_app.logger.warning("listed group %s changed its proof key", peer.actor_id)
    return False


def _keys_only_added(listed: str, current: str) -> bool:
    before, now = json.loads(listed or "{}"), json.loads(current or "{}")
    return all(now.get(key_id) == value for key_id, value in before.items())


def withdraw(listing: Listing) -> int:
    """Stop serving a group's entries (it left the directory); the caller commits.

    If it is listed again its entries are admitted again from seq 1, with new cursors, so a
    reader that resumes gets its whole chain.
    """
    state = _lock()
    gone = db.session.execute(
        delete(CombinedEntry).where(CombinedEntry.listing_id == listing.id)
    ).rowcount
    state.entries = max(0, state.entries - (gone or 0))
    listing.served_seq, listing.served_hash = 0, ""
    return gone or 0


# Reading -----------------------------------------------------------------------------


def total() -> int:
    """Return how many entries the combined feed serves."""
    found = db.session.scalar(select(CombinedFeedState.entries).where(CombinedFeedState.id == 1))
    return found or 0


def page(after: int, limit: int) -> tuple[list[tuple[int, datetime, str]], bool]:
    """Return up to ``limit`` (cursor, admitted at, body) after ``after``, and if more follow."""
    rows = db.session.execute(
        select(CombinedEntry.cursor, CombinedEntry.served_at, RemoteEntry.body)
        .join(RemoteEntry, RemoteEntry.id == CombinedEntry.remote_entry_id)
        .where(CombinedEntry.cursor > after)
        .order_by(CombinedEntry.cursor)
        .limit(limit + 1)
    ).all()
    return [tuple(row) for row in rows[:limit]], len(rows) > limit


def one(cursor: int) -> tuple[int, datetime, str] | None:
    """Return (cursor, admitted at, body) of one entry of the combined feed, or None."""
    row = db.session.execute(
        select(CombinedEntry.cursor, CombinedEntry.served_at, RemoteEntry.body)
        .join(RemoteEntry, RemoteEntry.id == CombinedEntry.remote_entry_id)
        .where(CombinedEntry.cursor == cursor)
    ).first()
    return None if row is None else tuple(row)


def groups() -> list[dict[str, Any]]:
    """Describe each listed group as the combined feed's ``groups`` list does."""
    listings = db.session.scalars(
        select(Listing)
        .join(Peer, Listing.peer_id == Peer.id)
        .where(Listing.state == LISTED, Listing.kind == GROUP_KIND)
        .order_by(Peer.actor_id)
    )
    described = []
    for listing in listings:
        state = sync_state(listing)
        item: dict[str, Any] = {
            "actor": listing.peer.actor_id,
            "name": listing.peer.name,
            "heldSeq": listing.served_seq,
        }
        if listing.served_hash:
            item["heldHash"] = listing.served_hash
        item["state"] = state.code
        item["stateReason"] = state.reason
        described.append(item)
    return described


def published(moment: datetime) -> str:
    """Format when an entry was admitted, as an Announce's ``published``."""
    return format_created(moment)


def served_count(listing: Listing) -> int:
    """Count the entries of one group the combined feed serves."""
    query = select(func.count()).select_from(CombinedEntry)
    return db.session.scalar(query.where(CombinedEntry.listing_id == listing.id)) or 0
