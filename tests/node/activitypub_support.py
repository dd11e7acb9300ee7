"""Helpers for the ActivityPub tests: reading this node's feed and checking it as a peer would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from federation import feed as signed_feed
from federation.keys import ed25519_public_key_from_multikey
from node.extensions import db
from node.models import FeedEntry

BASE = "http://localhost"
ACTOR = f"{BASE}/actor"
AS_JSON = "application/activity+json"
LD_JSON = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def stored() -> list[dict]:
    """Return every stored entry, parsed, oldest first."""
    rows = db.session.scalars(select(FeedEntry).order_by(FeedEntry.seq))
    return [json.loads(row.body) for row in rows]


def activities() -> list[tuple[str, str, str | None]]:
    """Return (activity type, object id, object type) of every entry, oldest first."""
    rows = db.session.scalars(select(FeedEntry).order_by(FeedEntry.seq))
    return [(row.activity_type, row.object_id, row.object_type) for row in rows]


def keys_from_actor(actor: dict) -> dict:
    """Read the actor's Multikeys as a verifier would: {key id: public key}."""
    return {
        key["id"]: ed25519_public_key_from_multikey(key["publicKeyMultibase"])
        for key in actor["assertionMethod"]
        if key.get("type") == "Multikey" and key.get("controller") == actor["id"]
    }


def verify(entries: list[dict], actor: dict, **kwargs) -> signed_feed.RunReport:
    """Verify a run of entries against the actor document's keys."""
    return signed_feed.verify_run(
        entries, actor=actor["id"], lookup_key=keys_from_actor(actor).get, **kwargs
    )


def later(days: float = 7) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)


def event_data(**fields) -> dict:
    values = {"title": "Canvass the estate", "kind": "canvass", "starts_at": later()}
    values.update(fields)
    return values
