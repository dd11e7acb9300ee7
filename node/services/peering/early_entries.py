"""Entries pushed ahead of a gap: kept until the gap fills, then applied like any other.

A burst whose deliveries crossed, or a retry that overtook, brings a peer's entry before
the one we lack. It is not thrown away: ``keep`` stores it as it came (the inbox has
checked its HTTP signature), up to EARLY_ENTRIES_PER_PEER ahead, and asks for a pull of the
peer now; ``apply`` applies the kept entries that have become the next links, verified like
any other (``remote_feed.apply_run``), whenever the chain moves on (a push or a pull).
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, delete, select

from ...extensions import db
from ...models import EarlyEntry, Peer
from ...models.types import utcnow
from . import remote_feed


def keep(peer: Peer, entry: dict[str, Any], body: str) -> bool:
    """Keep an entry that came ahead of a gap until the gap fills; pull the peer now.

    Kept only within EARLY_ENTRIES_PER_PEER of what we hold (one row per seq, so that is
    also the bound on rows); anything further is left to the pull. Say whether it was kept.
    The caller holds the peer (``hold``) and commits.
    """
    peer.next_poll_at = utcnow()  # the gap is filled by a pull (``sync.poll_due``) at once
    seq = entry.get("seq")
    window = int(current_app.config.get("EARLY_ENTRIES_PER_PEER", 500))
    if not remote_feed.usable_seq(seq) or seq > peer.held_seq + window:
        return False
    kept = db.session.scalar(
        select(EarlyEntry.id).where(EarlyEntry.peer_id == peer.id, EarlyEntry.seq == seq)
    )
    if kept is None:
        db.session.add(EarlyEntry(peer_id=peer.id, seq=seq, body=body))
        db.session.flush()
    return True


# Built once: the inbox asks after every entry it applies.
_early = EarlyEntry.__table__
_KEPT = (
    select(_early.c.seq, _early.c.body)
    .where(_early.c.peer_id == bindparam("peer_key"))
    .order_by(_early.c.seq)
)


def apply(peer: Peer) -> int:
    """Apply the kept entries that now continue the chain; drop those it has passed.

    They are verified as any entry is; one that does not verify is not held against the
    peer (it came early, unchecked): every kept entry of the peer is dropped and the pull,
    which reads the feed from the group itself, decides. Return how many were applied.
    The caller holds the peer (``hold``) and commits.
    """
    connection = db.session.connection()
    rows = connection.execute(_KEPT, {"peer_key": peer.id}).all()
    if not rows:
        return 0
    items = []
    for seq, body in rows:
        if seq <= peer.held_seq:
            continue
        try:
            entry = json.loads(body)
        except ValueError:
            break
        items.append((entry, body))
    run = remote_feed.in_line(peer, items, 0) if items else 0
    stored = remote_feed.apply_run(peer, items[:run]) if run else 0
    if stored < run:
        connection.execute(delete(EarlyEntry).where(EarlyEntry.peer_id == peer.id))
        peer.next_poll_at = utcnow()
        return stored
    connection.execute(
        delete(EarlyEntry).where(EarlyEntry.peer_id == peer.id, EarlyEntry.seq <= peer.held_seq)
    )
    return stored
