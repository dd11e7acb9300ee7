"""Twinning with fake peers: their proposals, answers and RSVPs, and what this node sent them.

Builds on federation_support: a FakePeer on 127.0.0.<n> signs its feed entries and requests;
`responses` answers the node's fetches of its actor. Nothing is ever sent: deliveries stay
queued rows, read back here.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from federation.feed import NAMESPACE
from node.extensions import db
from node.models import Delivery, FeedEntry, Peer, Twinning
from node.services.twins import twinning
from tests.node.federation_support import OUR_ACTOR, FakePeer, body_of, follow_peer

TWIN = f"{NAMESPACE}twinnedWith"
OUR_BASE = "http://localhost"


def relationship(
    peer: FakePeer, *, subject: str | None = None, other: str = OUR_ACTOR, note: str = ""
) -> dict:
    found = {
        "id": f"{peer.base}/twins/{len(peer.entries) + 1}",
        "type": "Relationship",
        "subject": subject or peer.actor,
        "relationship": TWIN,
        "object": other,
    }
    if note:
        found["summary"] = note
    return found


def offer_entry(peer: FakePeer, **options: Any) -> dict[str, Any]:
    """Append ``peer``'s signed proposal to twin with us (or as ``options`` say) to its feed."""
    return peer.entry("Offer", relationship(peer, **options))


def push(client, peer: FakePeer, activity: dict[str, Any]):
    """POST ``activity`` to our inbox signed by ``peer``, as its canonical bytes."""
    body = body_of(activity)
    return client.post("/inbox", data=body, headers=peer.signed_headers(body))


def twin_with(client, peer: FakePeer, mock, *, follow: bool = True) -> Twinning:
    """Make this node and ``peer`` twins: it proposes, we accept (following it first)."""
    if follow:
        follow_peer(peer, mock)
    else:
        peer.serve(mock)
    answer = push(client, peer, offer_entry(peer))
    assert answer.status_code == 202, answer.get_json()
    stored = db.session.scalar(select(Peer).where(Peer.actor_id == peer.actor))
    twin = twinning.of_peer(stored)
    twinning.accept(twin)
    return twin


def publish_event(client, peer: FakePeer, slug: str, **extra: Any) -> dict[str, Any]:
    """Have ``peer`` publish an upcoming event (we must follow it) and return the event."""
    event = peer.event(slug, extra.pop("title", f"Event {slug}"), **extra)
    answer = push(client, peer, peer.entry("Create", event))
    assert answer.status_code == 202, answer.get_json()
    return event


def sent() -> list[tuple[str, dict[str, Any]]]:
    """Return (inbox, activity) of every delivery this node queued, oldest first."""
    rows = db.session.execute(
        select(Delivery.inbox, Delivery.body, FeedEntry.body)
        .outerjoin(FeedEntry, FeedEntry.id == Delivery.feed_entry_id)
        .order_by(Delivery.id)
    )
    return [(inbox, json.loads(own or entry)) for inbox, own, entry in rows]


def sent_to(peer: FakePeer, kind: str | None = None) -> list[dict[str, Any]]:
    """Return the activities queued for ``peer``'s inbox (of type ``kind``)."""
    return [
        body
        for inbox, body in sent()
        if inbox == f"{peer.base}/inbox" and (kind is None or body.get("type") == kind)
    ]


def our_entries(kind: str | None = None) -> list[dict[str, Any]]:
    query = select(FeedEntry.body).order_by(FeedEntry.seq)
    bodies = [json.loads(body) for body in db.session.scalars(query)]
    return [body for body in bodies if kind is None or body["type"] == kind]
