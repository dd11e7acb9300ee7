"""Fakes for aggregator tests: groups that serve their outbox, and an aggregator (regional)
that serves a combined feed of their entries, all answered by `responses` on loopback
addresses, so nothing leaves the machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import select

from federation import feed
from federation.jcs import canonicalize
from node.extensions import db
from node.models import Listing, QuarantinedEntry, RemoteEntry
from tests.node.federation_support import ACTIVITY_JSON, FakePeer

# What an aggregator under test runs with: the role, and peers on loopback addresses.
AGGREGATOR = {"ROLE": "aggregator", "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8"}


@pytest.fixture
def web(app, group):
    """Answer the node's fetches with `responses` (nothing is ever sent)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@dataclass
class FakeGroup(FakePeer):
    """A Branchline group on 127.0.0.<n> that also serves its outbox (and can be down)."""

    down: bool = False
    outbox_requests: list[str] = field(default_factory=list)

    def serve(self, mock: responses.RequestsMock, document: dict | None = None) -> None:
        super().serve(mock, document)
        mock.add_callback(responses.GET, f"{self.base}/outbox", callback=self._outbox)

    def _outbox(self, request) -> tuple[int, dict[str, str], str]:
        self.outbox_requests.append(request.url)
        if self.down:
            return 503, {}, "down"
        query = parse_qs(urlsplit(request.url).query)
        after = int(query.get("after", ["0"])[0])
        limit = int(query.get("limit", ["100"])[0])
        items = self.entries[after : after + limit]
        page: dict[str, Any] = {
            "id": f"{self.base}/outbox?after={after}&limit={limit}",
            "type": "OrderedCollectionPage",
            "partOf": f"{self.base}/outbox",
            "totalItems": len(self.entries),
            "orderedItems": items,
        }
        if after + limit < len(self.entries):
            page["next"] = f"{self.base}/outbox?after={after + limit}&limit={limit}"
        return 200, {"Content-Type": ACTIVITY_JSON}, json.dumps(page)

    def create(self, slug: str) -> dict[str, Any]:
        return self.entry("Create", self.event(slug, slug.title()))


@dataclass
class FakeAggregator(FakePeer):
    """A regional aggregator: an actor naming its combined feed, and that feed, paged with
    opaque cursors (``c<position>``). ``served`` is what it serves, in its order."""

    served: list[Any] = field(default_factory=list)
    page_size: int = 3
    feed_requests: list[str] = field(default_factory=list)
    down: bool = False

    @property
    def feed_url(self) -> str:
        return f"{self.base}/aggregate/feed"

    def actor_document(self) -> dict[str, Any]:
        return {
            **super().actor_document(),
            "nodeRole": "aggregator",
            "aggregateFeed": self.feed_url,
        }

    def serve(self, mock: responses.RequestsMock, document: dict | None = None) -> None:
        super().serve(mock, document)
        mock.add_callback(responses.GET, self.feed_url, callback=self._feed)

    def _feed(self, request) -> tuple[int, dict[str, str], str]:
        self.feed_requests.append(request.url)
        if self.down:
            return 503, {}, "down"
        query = parse_qs(urlsplit(request.url).query)
        headers = {"Content-Type": ACTIVITY_JSON}
        if "after" not in query:
            heads: dict[str, int] = {}
            for entry in self.served:
                if isinstance(entry, dict) and isinstance(entry.get("seq"), int):
                    actor = entry.get("actor", "")
                    heads[actor] = max(heads.get(actor, 0), entry["seq"])
            groups = [{"actor": actor, "heldSeq": seq} for actor, seq in heads.items()]
            root = {"id": self.feed_url, "type": "OrderedCollection", "groups": groups}
            return 200, headers, json.dumps(root)
        after = query["after"][0]
        start = int(after[1:]) if after.startswith("c") else int(after)
        limit = int(query.get("limit", ["100"])[0])
        size = min(limit, self.page_size)
        items = self.served[start : start + size]
        page: dict[str, Any] = {
            "id": request.url,
            "type": "OrderedCollectionPage",
            "partOf": self.feed_url,
        }
        if start + size < len(self.served):
            page["next"] = f"{self.feed_url}?after=c{start + size}&limit={limit}"
        # Spliced, as a real aggregator serves them: each entry's own bytes.
        bodies = ",".join(
            canonicalize(item).decode() if isinstance(item, dict) else json.dumps(item)
            for item in items
        )
        head = json.dumps(page)
        return 200, headers, f'{head[:-1]},"orderedItems":[{bodies}]}}'


def quarantined() -> list[QuarantinedEntry]:
    return list(db.session.scalars(select(QuarantinedEntry).order_by(QuarantinedEntry.id)))


def held_seqs(actor: str) -> list[int]:
    from node.models import Peer

    return list(
        db.session.scalars(
            select(RemoteEntry.seq)
            .join(Peer, Peer.id == RemoteEntry.peer_id)
            .where(Peer.actor_id == actor)
            .order_by(RemoteEntry.seq)
        )
    )


def listing(actor: str) -> Listing | None:
    from node.models import Peer

    db.session.expire_all()
    return db.session.scalar(
        select(Listing).join(Peer, Peer.id == Listing.peer_id).where(Peer.actor_id == actor)
    )


def verify_served(entries: list[dict[str, Any]], group: FakePeer) -> feed.RunReport:
    """Check a group's entries as any reader would: from seq 1, with the group's own key."""
    key = group.proof_key.public_key()
    return feed.verify_run(
        entries,
        actor=group.actor,
        lookup_key=lambda key_id: key if key_id == group.proof_key_id else None,
    )
