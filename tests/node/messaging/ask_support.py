"""Asks as other tests need them: one received from a followed group, one published."""

from __future__ import annotations

from datetime import UTC, datetime

from node.extensions import db
from node.models import InboundAsk, OutboundAsk, Peer


def received_ask(subject: str = "Canvass on Saturday") -> InboundAsk:
    """Store an ask as if a followed region had sent it, in the queue as new."""
    peer = Peer(
        actor_id="http://127.0.0.5/actor", name="Yorkshire Region", inbox="http://127.0.0.5/inbox"
    )
    db.session.add(peer)
    db.session.flush()
    ask = InboundAsk(
        peer_id=peer.id,
        offer_activity_id="http://127.0.0.5/outbox/1",
        object_id="http://127.0.0.5/asks/1",
        subject=subject,
        body="Meet at the **station**.",
        when_text="Saturday 10:00",
        all_followers=True,
        received_at=datetime(2031, 1, 1, 9, tzinfo=UTC),
    )
    db.session.add(ask)
    db.session.commit()
    return ask


def published_ask(subject: str = "Phonebank on Tuesday") -> OutboundAsk:
    """Store an ask as if this group had published it (not on the feed: a row only)."""
    ask = OutboundAsk(
        subject=subject,
        all_followers=True,
        object_id="http://localhost/asks/x",
        offer_activity_id="http://localhost/outbox/99",
        created_at=datetime(2031, 1, 1, 9, tzinfo=UTC),
    )
    db.session.add(ask)
    db.session.commit()
    return ask
