"""A listing in the aggregator's directory: its states and kinds, and where its feed stands.

The directory (directory.py) changes listings; the combined feed, the quarantine and the
pulls from other aggregators only read them, through what is here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from ...extensions import db
from ...models import Listing, Peer
from ..peering import peers, reachability

LISTED = "listed"
REQUESTED = "requested"
REFUSED = "refused"
REMOVED = "removed"
STATES = (LISTED, REQUESTED, REFUSED, REMOVED)
SOURCES = ("command", "csv", "request", "aggregator")
GROUP_KIND = "group"
SOURCE_KIND = "aggregator"  # another aggregator whose combined feed we pull

_CHAIN_BREAK = re.compile(r"^entry (\d+): (.*)$", re.S)


def listing_of(peer: Peer) -> Listing | None:
    return db.session.scalar(select(Listing).where(Listing.peer_id == peer.id))


@dataclass(frozen=True)
class SyncState:
    """Where a listed group's feed stands, as the directory and the combined feed say it."""

    code: str  # in_step, behind, unreachable, chain_broken, key_changed (or "" when unlisted)
    label: str  # "in step", "behind 3", "chain broken at seq 7: bad-proof: …", …
    reason: str = ""


def sync_state(listing: Listing) -> SyncState:
    """Say where ``listing``'s feed stands: key change, broken chain, outage, lag, or in step."""
    peer = listing.peer
    if listing.kind == SOURCE_KIND:
        return _source_state(listing)
    if listing.key_changed_at is not None or peer.state == peers.KEY_CHANGED:
        reason = peer.state_reason if peer.state == peers.KEY_CHANGED else ""
        reason = reason or f"its proof key changed on {listing.key_changed_at:%Y-%m-%d %H:%M} UTC"
        return SyncState("key_changed", f"key changed: {reason}", reason)
    if peer.state == "chain_broken":
        found = _CHAIN_BREAK.match(peer.state_reason or "")
        seq, why = (found[1], found[2]) if found else (peer.held_seq + 1, peer.state_reason)
        return SyncState("chain_broken", f"chain broken at seq {seq}: {why}", peer.state_reason)
    if peer.state == reachability.UNREACHABLE or peer.unreachable_since is not None:
        return SyncState("unreachable", "unreachable", peer.state_reason)
    if peer.head_seq > peer.held_seq:
        behind = peer.head_seq - peer.held_seq
        return SyncState("behind", f"behind {behind}", peer.state_reason)
    return SyncState("in_step", "in step")


def _source_state(listing: Listing) -> SyncState:
    peer = listing.peer
    if peer.state == reachability.UNREACHABLE or peer.unreachable_since is not None:
        return SyncState("unreachable", "unreachable", listing.reason)
    if listing.last_pulled_at is None:
        return SyncState("behind", "not pulled yet", listing.reason)
    label = f"pulled {listing.last_pulled_at:%Y-%m-%d %H:%M} UTC, cursor {listing.cursor or 0}"
    return SyncState("in_step", label, listing.reason)
