"""Helpers for delivery and catch-up tests: peers, queued deliveries, a peer's signed feed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.asymmetric import ed25519

from federation.feed import build_entry
from federation.keys import ed25519_public_key_to_multikey
from node.extensions import db
from node.models.federation import Delivery, Following, Peer
from tests.federation.local_http import LocalServer, Received, Reply

ACTIVITY = b'{"type":"Create","id":"http://localhost/activities/1"}'
CREATED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def peer(actor_id: str = "http://127.0.0.1:9/actor", **fields: Any) -> Peer:
    values: dict[str, Any] = {"actor_id": actor_id, "handle": "acct:other@127.0.0.1"}
    values.update(fields)
    found = Peer(**values)
    db.session.add(found)
    db.session.commit()
    return found


def queue(inbox: str, peer_id: int | None = None, *, body: bytes = ACTIVITY, **fields) -> Delivery:
    row = Delivery(inbox=inbox, peer_id=peer_id, body=body.decode(), **fields)
    db.session.add(row)
    db.session.commit()
    return row


def follow(target: Peer, state: str = "accepted") -> Following:
    row = Following(peer_id=target.id, state=state, follow_activity_id=f"{target.actor_id}#f")
    db.session.add(row)
    db.session.commit()
    return row


@dataclass
class RemoteFeed:
    """A peer's signed feed served from a local server: actor and paged outbox."""

    server: LocalServer
    size: int
    page_size: int = 4
    key: ed25519.Ed25519PrivateKey = field(default_factory=ed25519.Ed25519PrivateKey.generate)
    entries: list[dict[str, Any]] = field(default_factory=list)
    fail_after: set[int] = field(default_factory=set)  # answer 500 for these `after` values

    def __post_init__(self) -> None:
        previous = None
        for seq in range(1, self.size + 1):
            activity = {
                "id": f"{self.actor}/activities/{seq}",
                "type": "Create",
                "actor": self.actor,
                "object": {"id": f"{self.actor}/notes/{seq}", "type": "Note", "content": f"n{seq}"},
            }
            previous = build_entry(
                activity,
                seq=seq,
                previous=previous,
                signing_key=self.key,
                verification_method=f"{self.actor}#ed25519-key",
                created=CREATED,
            )
            self.entries.append(previous)
        self.server.routes["/actor"] = self._actor
        self.server.routes["/outbox"] = self._outbox

    @property
    def actor(self) -> str:
        return self.server.url("/actor")

    @property
    def outbox(self) -> str:
        return self.server.url("/outbox")

    def tamper(self, seq: int) -> None:
        self.entries[seq - 1]["object"]["content"] = "forged"

    def requested_after(self) -> list[int]:
        return [
            int(parse_qs(urlsplit(r.path).query)["after"][0])
            for r in self.server.received
            if r.path.startswith("/outbox")
        ]

    def peer(self, **fields: Any) -> Peer:
        """Store the peer this feed belongs to, as resolving its actor would."""
        key = ed25519_public_key_to_multikey(self.key.public_key())
        values: dict[str, Any] = {
            "handle": f"acct:branch@127.0.0.1:{self.server.port}",
            "is_branchline": True,
            "outbox": self.outbox,
            "inbox": self.server.url("/inbox"),
            "assertion_keys": json.dumps({f"{self.actor}#ed25519-key": key}),
        }
        values.update(fields)
        return peer(self.actor, **values)

    def _json(self, document: dict[str, Any]) -> Reply:
        return Reply(
            200, {"Content-Type": "application/activity+json"}, json.dumps(document).encode()
        )

    def _actor(self, _request: Received) -> Reply:
        head = self.entries[-1]["seq"] if self.entries else 0
        return self._json({"id": self.actor, "type": "Group", "feedHead": {"seq": head}})

    def _outbox(self, request: Received) -> Reply:
        query = parse_qs(urlsplit(request.path).query)
        after = int(query.get("after", ["0"])[0])
        limit = min(int(query.get("limit", ["100"])[0]), self.page_size)
        if after in self.fail_after:
            self.fail_after.discard(after)
            return Reply(500)
        items = self.entries[after : after + limit]
        page: dict[str, Any] = {
            "id": f"{self.outbox}?after={after}&limit={limit}",
            "type": "OrderedCollectionPage",
            "partOf": {"id": self.outbox, "type": "OrderedCollection", "totalItems": self.size},
            "orderedItems": items,
        }
        if after + limit < self.size:
            page["next"] = f"{self.outbox}?after={after + limit}&limit={limit}"
        return self._json(page)
