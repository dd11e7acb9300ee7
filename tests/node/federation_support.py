"""Fake peers for inbox tests: their keys, actor documents (served with `responses`), signed
requests and signed feed entries.

Peers live on loopback addresses (127.0.0.2, 127.0.0.3, …) that the node is allowed to
reach in these tests; `responses` answers every fetch, so nothing is ever sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
import responses

from federation import feed, keys, rotation
from federation.httpsig import sign_request
from federation.jcs import canonicalize
from node.keys import key_fragments

ACTIVITY_JSON = "application/activity+json"
OUR_INBOX = "http://localhost/inbox"
OUR_ACTOR = "http://localhost/actor"


@cache
def rsa_key(n: int):
    """RSA keys are slow to make: one per fake peer number for the whole run."""
    return keys.generate_rsa_key()


@cache
def ed25519_key(n: int):
    return keys.generate_ed25519_key()


@dataclass
class FakePeer:
    """A Branchline group (or a plain fediverse actor) on 127.0.0.<n>."""

    n: int
    actor_type: str = "Group"
    branchline: bool = True
    entries: list[dict[str, Any]] = field(default_factory=list)
    generation: int = 1  # of its keys: each rotation adds one
    retired: list[dict[str, Any]] = field(default_factory=list)  # retired Multikeys
    rotations: list[dict[str, Any]] = field(default_factory=list)  # its rotation entries

    def __post_init__(self) -> None:
        self.http_key = rsa_key(self.n)
        self.proof_key = ed25519_key(self.n)

    @property
    def base(self) -> str:
        return f"http://127.0.0.{self.n}"

    @property
    def actor(self) -> str:
        return f"{self.base}/actor"

    @property
    def key_id(self) -> str:
        return f"{self.actor}#{key_fragments(self.generation)[0]}"

    @property
    def proof_key_id(self) -> str:
        return f"{self.actor}#{key_fragments(self.generation)[1]}"

    def actor_document(self) -> dict[str, Any]:
        context: list[Any] = [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/v1",
        ]
        document: dict[str, Any] = {
            "id": self.actor,
            "type": self.actor_type,
            "preferredUsername": f"group{self.n}",
            "name": f"Group {self.n}",
            "url": f"{self.base}/",
            "inbox": f"{self.base}/inbox",
            "outbox": f"{self.base}/outbox",
            "followers": f"{self.base}/followers",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {
                "id": self.key_id,
                "owner": self.actor,
                "publicKeyPem": keys.public_key_to_pem(self.http_key.public_key()),
            },
            "someFieldWeDoNotKnow": {"x": 1},
        }
        if self.branchline:
            context += [
                "https://w3id.org/security/data-integrity/v1",
                "https://www.w3.org/ns/did/v1",
                "https://w3id.org/security/multikey/v1",
                feed.extension_terms(),
            ]
            document["assertionMethod"] = [
                {
                    "id": self.proof_key_id,
                    "type": "Multikey",
                    "controller": self.actor,
                    "publicKeyMultibase": keys.ed25519_public_key_to_multikey(
                        self.proof_key.public_key()
                    ),
                },
                *self.retired,
            ]
            if self.rotations:
                document["keyRotations"] = self.rotations
        return {"@context": context, **document}

    def serve(self, mock: responses.RequestsMock, document: dict | None = None) -> None:
        """Answer fetches of this peer's actor (and its WebFinger) from ``mock``."""
        mock.add(
            responses.GET,
            self.actor,
            body=json.dumps(document or self.actor_document()),
            content_type=ACTIVITY_JSON,
        )
        mock.add(
            responses.GET,
            f"{self.base}/.well-known/webfinger",
            json={
                "subject": f"acct:group{self.n}@127.0.0.{self.n}",
                "links": [{"rel": "self", "type": ACTIVITY_JSON, "href": self.actor}],
            },
            content_type="application/jrd+json",
        )

    # Requests --------------------------------------------------------------------

    def signed_headers(
        self,
        body: bytes,
        *,
        key=None,
        key_id: str | None = None,
        now: datetime | None = None,
        url: str = OUR_INBOX,
        content_type: str = ACTIVITY_JSON,
        covered: list[str] | None = None,
    ) -> dict[str, str]:
        return sign_request(
            "POST",
            url,
            {"Content-Type": content_type},
            body,
            key_id or self.key_id,
            key or self.http_key,
            now or datetime.now(UTC),
            covered=covered,
        )

    def post(self, client, activity: dict | bytes, **options):
        """POST ``activity`` to the node's inbox, signed as this peer (options change that)."""
        body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        headers = self.signed_headers(body, **options)
        return client.post("/inbox", data=body, headers=headers)

    # Activities ------------------------------------------------------------------

    def activity(self, kind: str, obj: Any, *, name: str | None = None) -> dict[str, Any]:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{self.base}/activities/{name or kind.lower()}-{len(self.entries)}",
            "type": kind,
            "actor": self.actor,
            "object": obj,
        }

    def event(self, slug: str, title: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": f"{self.base}/events/{slug}",
            "type": "Event",
            "name": title,
            "startTime": "2031-05-01T18:00:00Z",
            "attributedTo": self.actor,
            "published": "2030-01-01T10:00:00Z",
            **extra,
        }

    def entry(
        self,
        kind: str,
        obj: Any,
        *,
        created: datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append a signed entry to this peer's feed and return it."""
        seq = len(self.entries) + 1
        activity = {
            "id": f"{self.base}/outbox/{seq}",
            "type": kind,
            "actor": self.actor,
            "object": obj,
            **(extra or {}),
        }
        built = feed.build_entry(
            activity,
            seq=seq,
            previous=self.entries[-1] if self.entries else None,
            signing_key=self.proof_key,
            verification_method=self.proof_key_id,
            created=created or datetime(2030, 1, 1, tzinfo=UTC),
        )
        self.entries.append(built)
        return built

    def rotate(
        self, *, created: datetime | None = None, compromised_since: datetime | None = None
    ) -> dict[str, Any]:
        """Rotate this peer's keys: append the rotation entry (old key signs, new proves)."""
        created = created or datetime(2030, 1, 1, tzinfo=UTC)
        new_http, new_proof = rsa_key(self.n + 100 * self.generation), keys.generate_ed25519_key()
        http_fragment, proof_fragment = key_fragments(self.generation + 1)
        statement = rotation.rotation_statement(
            actor=self.actor,
            previous_key=self.proof_key_id,
            new_key=f"{self.actor}#{proof_fragment}",
            new_key_value=new_proof.public_key(),
            previous_http_key=self.key_id,
            new_http_key=f"{self.actor}#{http_fragment}",
            new_http_pem=keys.public_key_to_pem(new_http.public_key()),
            valid_from=created,
            compromised_since=compromised_since,
        )
        signed = rotation.sign_statement(statement, new_proof, created)
        actor = {"id": self.actor, "type": self.actor_type, "name": f"Group {self.n}"}
        built = self.entry("Update", actor, created=created, extra={"keyRotation": signed})
        retired = {
            "id": self.proof_key_id,
            "type": "Multikey",
            "controller": self.actor,
            "publicKeyMultibase": keys.ed25519_public_key_to_multikey(self.proof_key.public_key()),
            "expires": "2030-01-01T00:00:00Z",
        }
        if compromised_since is not None:
            retired["revoked"] = statement["compromisedSince"]
        self.retired.insert(0, retired)
        self.rotations.append(built)
        self.generation += 1
        self.http_key, self.proof_key = new_http, new_proof
        return built


@pytest.fixture
def remote(app, group):
    """Let the node reach loopback peers, and answer its fetches with `responses`."""
    app.config["ALLOW_PRIVATE_ADDRESSES"] = "127.0.0.0/8"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def follow_peer(peer: FakePeer, mock: responses.RequestsMock, state: str = "accepted"):
    """Store ``peer`` as followed by this node (as if it had accepted our Follow)."""
    from node.extensions import db
    from node.models import Following
    from node.services.peering import peers

    peer.serve(mock)
    stored = peers.refresh(peer.actor)
    db.session.add(
        Following(peer_id=stored.id, state=state, follow_activity_id=f"{OUR_ACTOR}/f/{peer.n}")
    )
    db.session.commit()
    return stored


def body_of(entry: dict[str, Any]) -> bytes:
    """Return an entry as a publisher sends it: its canonical JSON bytes."""
    return canonicalize(entry)
