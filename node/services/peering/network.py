"""What the Network page shows: the latest campaigns, events, candidates and posts of the
groups this group follows, each with how far it could be verified."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ...extensions import db
from ...models import Following, Peer, RemoteObject
from .follows import REJECTED

KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "events": ("Events", ("Event",)),
    "campaigns": ("Campaigns", ("Campaign",)),
    "candidates": ("Candidates", ("Candidate",)),
    "posts": ("Posts", ("Note", "Article", "Page")),
    "results": ("Ballot results", ("Question",)),
}
VERIFICATION_LABELS = {
    "verified": "Verified",
    "signature-only": "Signature only",
    "announced": "Announced",
    "chain_broken": "Chain broken",
}
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class RemoteItem:
    """One remote object as the Network page shows it (plain text only: no remote HTML)."""

    title: str
    text: str
    object_type: str
    url: str
    starts_at: datetime | None
    published_at: datetime | None
    group_name: str
    group_url: str
    verification: str  # verified, signature-only, announced or chain_broken
    id: int | None = None  # the RemoteObject row, for this node's own pages about it
    peer_id: int | None = None

    @property
    def verification_label(self) -> str:
        return VERIFICATION_LABELS.get(self.verification, self.verification)


def plain_text(html: object, limit: int = 280) -> str:
    """Reduce remote HTML to a short plain text (it is escaped again when shown)."""
    if not isinstance(html, str):
        return ""
    text = _SPACE.sub(" ", _TAG.sub(" ", html)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _link(data: dict[str, Any], fallback: str) -> str:
    url = data.get("url")
    if isinstance(url, list) and url:
        url = url[0]
    if isinstance(url, dict):
        url = url.get("href")
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    return fallback if fallback.startswith(("https://", "http://")) else ""


def remote_item(stored: RemoteObject) -> RemoteItem:
    """Read a followed group's object as the Network page shows it: plain text, safe links."""
    try:
        data = json.loads(stored.data or "{}")
    except ValueError:
        data = {}
    peer = stored.peer
    text = plain_text(data.get("summary") or data.get("content"))
    title = plain_text(stored.title, 200) or text[:80] or stored.object_type
    broken = peer.state == "chain_broken" and stored.verification == "verified"
    return RemoteItem(
        title=title,
        text="" if text == title else text,
        object_type=stored.object_type,
        url=_link(data, stored.object_id),
        starts_at=stored.starts_at,
        published_at=stored.published_at,
        group_name=peer.name or peer.handle or peer.actor_id,
        group_url=peer.url or peer.actor_id,
        verification="chain_broken" if broken else stored.verification,
        id=stored.id,
        peer_id=stored.peer_id,
    )


def listing(kind: str, page: int = 1, per_page: int = 20):
    """Page through the followed groups' live objects of one kind, soonest or newest first."""
    types = KINDS[kind][1]
    followed = select(Following.peer_id).where(Following.state != REJECTED)
    query = (
        select(RemoteObject)
        .join(Peer, RemoteObject.peer_id == Peer.id)
        .where(
            RemoteObject.peer_id.in_(followed),
            RemoteObject.deleted.is_(False),
            RemoteObject.object_type.in_(types),
        )
    )
    if kind == "events":
        query = query.order_by(RemoteObject.starts_at.desc(), RemoteObject.id.desc())
    else:
        query = query.order_by(RemoteObject.published_at.desc(), RemoteObject.id.desc())
    found = db.paginate(query, page=page, per_page=per_page, error_out=False)
    found.items = [remote_item(stored) for stored in found.items]
    return found
