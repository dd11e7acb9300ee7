"""Quarantine: entries a listed group's feed served that failed their checks.

remote_feed refuses such an entry and hands it back in its result; whoever applied it (the
inbox, a pull of the group's outbox, a pull of another aggregator's combined feed) keeps it
here, on an aggregator, for admins to see. A quarantined entry is never served.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, select

from ...extensions import db
from ...models import Peer, QuarantinedEntry
from ...models.types import utcnow
from ..peering.remote_feed import ApplyResult
from ..role import is_aggregator
from .listings import LISTED, listing_of


def keep(
    peer: Peer, seq: int | None, body: str, reason: str, *, via: int | None = None
) -> QuarantinedEntry | None:
    """Keep an entry of ``peer`` that failed its checks, for admins to see; it is never served.

    ``via`` is the peer id of the aggregator whose combined feed served it, if one did; an
    entry is kept only for a listed group or one met through a source. The caller holds the
    peer and commits.
    """
    if not is_aggregator():
        return None
    listing = listing_of(peer)
    if via is None and (listing is None or listing.state != LISTED):
        return None
    digest = "sha256:" + hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
    found = db.session.scalar(
        select(QuarantinedEntry).where(
            QuarantinedEntry.peer_id == peer.id, QuarantinedEntry.body_hash == digest
        )
    )
    now = utcnow()
    if found is None:
        found = QuarantinedEntry(peer_id=peer.id, body=body, body_hash=digest, first_seen_at=now)
        db.session.add(found)
    found.seq = seq
    found.via_peer_id = via
    found.reason = reason[:2000]
    found.times_seen = (found.times_seen or 0) + 1 if found.id else 1
    found.last_seen_at = now
    return found


def keep_refused(
    peer: Peer, result: ApplyResult | None, *, via: int | None = None
) -> QuarantinedEntry | None:
    """Keep the entry ``result`` says remote_feed refused (``keep``); other results keep nothing."""
    if result is None or result.outcome != "refused" or result.body is None:
        return None
    return keep(peer, result.seq, result.body, result.reason, via=via)


def entries(limit: int = 100) -> list[QuarantinedEntry]:
    """List the newest quarantined entries."""
    query = select(QuarantinedEntry).order_by(QuarantinedEntry.last_seen_at.desc())
    return list(db.session.scalars(query.limit(limit)))


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(QuarantinedEntry)) or 0


def pretty(body: str) -> str:
    """Show a quarantined body indented when it is JSON (the stored text stays verbatim)."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body
