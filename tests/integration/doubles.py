"""Test doubles a real node talks to over 127.0.0.1: a group that keeps a signed feed (and
can be made to lie), and a Mastodon-like person that follows a group.

Each is a tiny threaded HTTP server serving its actor document (and WebFinger, and for the
group its outbox), recording every POST to its inboxes and answering 202. They sign what
they send with ``federation``'s own keys, feed and HTTP-signature code, as a peer would.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from federation import feed, keys
from federation.httpsig import sign_request
from federation.jcs import canonicalize
from tests.federation.local_http import LocalServer, Received, Reply

ACTIVITY_JSON = "application/activity+json"
ACTIVITYSTREAMS = "https://www.w3.org/ns/activitystreams"
SECURITY_V1 = "https://w3id.org/security/v1"


def _json_reply(document: Any, content_type: str = ACTIVITY_JSON) -> Reply:
    return Reply(200, {"Content-Type": content_type}, json.dumps(document).encode())


class Double:
    """An actor on its own 127.0.0.1 port: its RSA key signs what it POSTs."""

    actor_path = "/actor"
    actor_type = "Group"

    def __init__(self, username: str, name: str) -> None:
        self.username = username
        self.name = name
        self.http_key = keys.generate_rsa_key()
        self.server = LocalServer()
        self.counter = 0
        self.server.routes[self.actor_path] = lambda _request: _json_reply(self.actor_document())
        self.server.routes["/.well-known/webfinger"] = lambda _request: _json_reply(
            {
                "subject": f"acct:{username}@127.0.0.1:{self.server.port}",
                "links": [{"rel": "self", "type": ACTIVITY_JSON, "href": self.actor}],
            },
            "application/jrd+json",
        )
        for path in self.inbox_paths():
            self.server.routes[path] = Reply(202, {"Content-Type": "application/json"}, b"{}")

    # Addresses -----------------------------------------------------------------------

    @property
    def base(self) -> str:
        return self.server.url("").rstrip("/")

    @property
    def actor(self) -> str:
        return f"{self.base}{self.actor_path}"

    @property
    def key_id(self) -> str:
        return f"{self.actor}#main-key"

    def inbox_paths(self) -> tuple[str, ...]:
        return ("/inbox",)

    def actor_document(self) -> dict[str, Any]:
        return {
            "@context": [ACTIVITYSTREAMS, SECURITY_V1],
            "id": self.actor,
            "type": self.actor_type,
            "preferredUsername": self.username,
            "name": self.name,
            "url": f"{self.base}/",
            "inbox": f"{self.base}{self.inbox_paths()[0]}",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {
                "id": self.key_id,
                "owner": self.actor,
                "publicKeyPem": keys.public_key_to_pem(self.http_key.public_key()),
            },
        }

    def stop(self) -> None:
        self.server.stop()

    # What it received ----------------------------------------------------------------

    def inbox_requests(self) -> list[Received]:
        """Return the POSTs made to this actor's inboxes so far, oldest first."""
        paths = self.inbox_paths()
        return [
            found
            for found in list(self.server.received)
            if found.method == "POST" and found.path.partition("?")[0] in paths
        ]

    def received(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Return the activities POSTed to its inboxes (of type ``kind``), oldest first."""
        activities = [json.loads(found.body) for found in self.inbox_requests()]
        return [found for found in activities if kind is None or found.get("type") == kind]

    # What it sends -------------------------------------------------------------------

    def new_id(self, kind: str) -> str:
        self.counter += 1
        return f"{self.base}/activities/{kind.lower()}-{self.counter}"

    def activity(self, kind: str, obj: Any, **extra: Any) -> dict[str, Any]:
        return {
            "@context": ACTIVITYSTREAMS,
            "id": self.new_id(kind),
            "type": kind,
            "actor": self.actor,
            "object": obj,
            **extra,
        }

    def post(
        self,
        inbox: str,
        activity: dict[str, Any] | bytes,
        *,
        key: Any = None,
        key_id: str | None = None,
    ) -> requests.Response:
        """POST ``activity`` to ``inbox``, signed as this actor (or with ``key``/``key_id``)."""
        body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        headers = sign_request(
            "POST",
            inbox,
            {"Content-Type": ACTIVITY_JSON},
            body,
            key_id or self.key_id,
            key or self.http_key,
            datetime.now(UTC),
        )
        return requests.post(inbox, data=body, headers=headers, timeout=30)


class FakeGroup(Double):
    """A Branchline-like group with a signed, hash-chained feed served from its outbox.

    ``build`` signs the next entry of the chain without publishing it; ``publish`` also puts
    it in the outbox. What the outbox serves is whatever ``published`` holds, so a test can
    hold entries back, or publish a tampered one, and then push it to a node's inbox.
    """

    def __init__(self, username: str = "fakegroup", name: str = "Fake Group") -> None:
        super().__init__(username, name)
        self.proof_key = keys.generate_ed25519_key()
        self.chain: list[dict[str, Any]] = []  # every entry built, in seq order
        self.published: list[dict[str, Any]] = []  # what the outbox serves, in seq order
        self.server.routes["/outbox"] = self._outbox

    @property
    def proof_key_id(self) -> str:
        return f"{self.actor}#ed25519-key"

    def actor_document(self) -> dict[str, Any]:
        document = super().actor_document()
        document["@context"] = [
            ACTIVITYSTREAMS,
            feed.DATA_INTEGRITY_CONTEXT,
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
            SECURITY_V1,
            feed.extension_terms(),
        ]
        document["outbox"] = f"{self.base}/outbox"
        document["assertionMethod"] = [
            {
                "id": self.proof_key_id,
                "type": "Multikey",
                "controller": self.actor,
                "publicKeyMultibase": keys.ed25519_public_key_to_multikey(
                    self.proof_key.public_key()
                ),
            }
        ]
        return document

    def _outbox(self, request: Received) -> Reply:
        query = parse_qs(urlsplit(request.path).query)
        after = int(query.get("after", ["0"])[0])
        limit = int(query.get("limit", ["50"])[0])
        items = self.published[after : after + limit]
        page: dict[str, Any] = {
            "@context": ACTIVITYSTREAMS,
            "id": f"{self.base}/outbox?after={after}&limit={limit}",
            "type": "OrderedCollectionPage",
            "partOf": f"{self.base}/outbox",
            "totalItems": len(self.published),
            "orderedItems": items,
        }
        if after + limit < len(self.published):
            page["next"] = f"{self.base}/outbox?after={after + limit}&limit={limit}"
        return _json_reply(page)

    # The feed ------------------------------------------------------------------------

    def event(self, slug: str, title: str) -> dict[str, Any]:
        return {
            "id": f"{self.base}/events/{slug}",
            "type": "Event",
            "name": title,
            "startTime": "2031-05-01T18:00:00Z",
            "attributedTo": self.actor,
            "published": "2030-01-01T10:00:00Z",
        }

    def build(
        self,
        kind: str,
        obj: dict[str, Any],
        *,
        seq: int | None = None,
        signing_key: Any = None,
        verification_method: str | None = None,
        keep: bool = True,
    ) -> dict[str, Any]:
        """Sign the entry after the last one built, or at ``seq``; ``keep`` adds it to the chain.

        ``signing_key`` and ``verification_method`` forge it: a key that is not the group's.
        """
        seq = seq or len(self.chain) + 1
        activity = {
            "id": f"{self.base}/outbox/{seq}",
            "type": kind,
            "actor": self.actor,
            "object": obj,
        }
        entry = feed.build_entry(
            activity,
            seq=seq,
            previous=self.chain[seq - 2] if seq > 1 else None,
            signing_key=signing_key or self.proof_key,
            verification_method=verification_method or self.proof_key_id,
            created=datetime.now(UTC),
        )
        if keep:
            self.chain.append(entry)
        return entry

    def publish(self, *entries: dict[str, Any]) -> None:
        """Serve ``entries`` from the outbox after what it serves already."""
        self.published.extend(entries)

    def push(self, node_inbox: str, entry: dict[str, Any]) -> requests.Response:
        """Deliver one entry to a node's inbox, signed, as its canonical JSON."""
        return self.post(node_inbox, canonicalize(entry))


class FakePerson(Double):
    """A Mastodon-like account: a Person with a personal and a shared inbox, and no feed."""

    actor_path = "/users/alice"
    actor_type = "Person"

    def inbox_paths(self) -> tuple[str, ...]:
        return (f"{self.actor_path}/inbox", "/inbox")
